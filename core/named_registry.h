// Entries found by name: models, training presets, palettes, dense CRF presets, dataset kinds, and the names of
// enum values (modes and policies: NamedValues). An unknown name is an error that lists the known ones, a name added
// twice is an error, and the names come back in the order they were added (the order `atrous models`, help texts
// and error messages show them in).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace atrous {

// T is any type with a `std::string name` member.
template <typename T>
class NamedRegistry {
 public:
  // `what` names an entry in messages: "model" gives "unknown model 'x'; known models: a, b".
  explicit NamedRegistry(std::string what, std::vector<T> entries = {}) : what_(std::move(what)) {
    for (T& entry : entries) add(std::move(entry));
  }

  void add(T entry) {
    ATROUS_CHECK(find(entry.name) == nullptr, what_, " '", entry.name, "' registered twice");
    entries_.push_back(std::move(entry));
  }

  const T* find(const std::string& name) const {
    for (const T& entry : entries_)
      if (entry.name == name) return &entry;
    return nullptr;
  }

  bool contains(const std::string& name) const { return find(name) != nullptr; }

  const T& get(const std::string& name) const {
    const T* entry = find(name);
    ATROUS_CHECK(entry != nullptr, "unknown ", what_, " '", name, "'; known ", what_, "s: ", joined_names(", "));
    return *entry;
  }

  const std::vector<T>& entries() const { return entries_; }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const T& entry : entries_) out.push_back(entry.name);
    return out;
  }

  // "voc | camvid | cityscapes" for help texts (separator " | "), or a list for messages (", ").
  std::string joined_names(const std::string& separator) const {
    std::string out;
    for (const T& entry : entries_) out += (out.empty() ? "" : separator) + entry.name;
    return out.empty() ? "(none)" : out;
  }

  const std::string& what() const { return what_; }

 private:
  std::string what_;
  std::vector<T> entries_;
};

// The spelling of each value of an enum: what settings, config files and logs write, and what they parse back.
template <typename E>
struct NamedValue {
  std::string name;
  E value;
};

template <typename E>
class NamedValues : public NamedRegistry<NamedValue<E>> {
 public:
  using NamedRegistry<NamedValue<E>>::NamedRegistry;

  E parse(const std::string& name) const { return this->get(name).value; }

  const std::string& name_of(E value) const {
    for (const NamedValue<E>& entry : this->entries())
      if (entry.value == value) return entry.name;
    ATROUS_FAIL(this->what(), ": value ", static_cast<int>(value), " has no name");
  }
};

}  // namespace atrous
