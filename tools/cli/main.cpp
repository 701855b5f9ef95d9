#include <iostream>
int main() { std::cout << "atrous\n"; }
