// NamedRegistry and the registries built on it: lookups, the order names come back in, duplicates and unknown names
// as errors that list what exists.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/named_registry.h"
#include "crf/crf_params.h"
#include "data/dataset.h"
#include "data/palette.h"
#include "models/registry.h"
#include "support/test_helpers.h"
#include "train/presets.h"

using namespace atrous;
using atrous::testing::expect_error;

namespace {

struct Colour {
  std::string name;
  int value = 0;
};

TEST(NamedRegistry, FindsEntriesAndKeepsTheirOrder) {
  const NamedRegistry<Colour> colours("colour", {{"red", 1}, {"green", 2}, {"blue", 3}});
  EXPECT_EQ(colours.get("green").value, 2);
  EXPECT_TRUE(colours.contains("blue"));
  EXPECT_FALSE(colours.contains("Blue")) << "names are case sensitive";
  EXPECT_EQ(colours.find("mauve"), nullptr);
  EXPECT_EQ(colours.names(), (std::vector<std::string>{"red", "green", "blue"}));
  EXPECT_EQ(colours.joined_names(" | "), "red | green | blue");
  EXPECT_EQ(NamedRegistry<Colour>("colour").joined_names(", "), "(none)");
}

TEST(NamedRegistry, UnknownAndDuplicateNamesAreErrors) {
  NamedRegistry<Colour> colours("colour", {{"red", 1}, {"green", 2}});
  expect_error([&] { colours.get("mauve"); }, {"unknown colour 'mauve'", "known colours: red, green"});
  expect_error([&] { colours.add({"red", 7}); }, {"colour 'red' registered twice"});
  EXPECT_EQ(colours.get("red").value, 1) << "a rejected duplicate leaves the first entry";
  expect_error([] { NamedRegistry<Colour>("colour", {{"a", 1}, {"a", 2}}); }, {"colour 'a' registered twice"});
}

// Every lookup by name in the project goes through a NamedRegistry, so each says what it knows the same way.
TEST(NamedRegistry, EveryRegistryListsItsNamesForAnUnknownOne) {
  expect_error([] { create_model("nope"); }, {"unknown model 'nope'", "tiny-deeplab"});
  expect_error([] { training_preset("nope"); }, {"unknown training preset 'nope'", "camvid"});
  expect_error([] { palette_by_name("nope"); }, {"unknown palette 'nope'", "known palettes: voc, camvid, cityscapes"});
  expect_error([] { crf::crf_preset("nope"); }, {"unknown dense CRF preset 'nope'", "deeplab-v1-largefov"});
  DatasetSpec spec;
  spec.kind = "nope";
  expect_error([&] { open_dataset(spec); },
               {"unknown dataset kind 'nope'", "known dataset kinds: voc, camvid, cityscapes, synthetic"});
}

}  // namespace
