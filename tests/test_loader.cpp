// The prefetching loader: batches identical for any worker count and timing, per-epoch shuffles, resume by
// skip_batches, worker errors rethrown from next(), bounded prefetch, and destruction at any moment.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/atrous.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "support/test_helpers.h"

using namespace atrous;
using namespace atrous::testing;

namespace {

// A dataset whose samples are generated from their index (so batches can be compared bit for bit), with optional
// per-sample delays that scramble the order in which workers finish, and failures that name a file.
class ScriptedDataset : public SegmentationDataset {
 public:
  explicit ScriptedDataset(int64_t size, int64_t side = 12) : size_(size), side_(side) {}
  int64_t size() const override { return size_; }
  int num_classes() const override { return 5; }
  int ignore_index() const override { return 255; }
  std::string palette_name() const override { return "voc"; }
  std::string describe() const override { return "scripted, " + std::to_string(size_) + " images"; }

  LabeledImage get(int64_t index) const override {
    ++reads;
    if (jitter) std::this_thread::sleep_for(std::chrono::microseconds(300 * ((index * 7) % 5)));
    if (slow) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (fail.count(index)) ATROUS_FAIL("corrupt PNG '/data/img_", index, ".png': CRC error");
    const int64_t h = uneven && index == 3 ? side_ + 2 : side_, w = side_;
    LabeledImage s{Tensor::empty({h, w, 3}, DType::u8), Tensor::empty({h, w}, DType::u8),
                   "img_" + std::to_string(index)};
    for (int64_t i = 0; i < h * w; ++i) {
      for (int c = 0; c < 3; ++c) s.image.data<uint8_t>()[i * 3 + c] = static_cast<uint8_t>(index * 11 + i * (c + 1));
      s.label.data<uint8_t>()[i] = static_cast<uint8_t>((index + i) % 5);
    }
    return s;
  }

  std::set<int64_t> fail;
  bool jitter = false;
  bool slow = false;
  bool uneven = false;
  mutable std::atomic<int64_t> reads{0};

 private:
  int64_t size_, side_;
};

LoaderOptions small_options(int workers) {
  LoaderOptions o;
  o.batch_size = 4;
  o.workers = workers;
  o.prefetch_batches = 2;
  o.seed = 42;
  o.augmentation.crop_height = 10;
  o.augmentation.crop_width = 9;
  o.augmentation.scale_min = 0.5;
  o.augmentation.scale_max = 1.5;
  return o;
}

std::vector<Batch> whole_epoch(DataLoader& loader, int64_t epoch, int64_t skip = 0) {
  loader.start_epoch(epoch, skip);
  std::vector<Batch> out;
  while (std::optional<Batch> b = loader.next()) out.push_back(std::move(*b));
  return out;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].ids, b[i].ids) << "batch " << i;
    EXPECT_EQ(a[i].epoch, b[i].epoch);
    EXPECT_EQ(a[i].index_in_epoch, b[i].index_in_epoch);
    EXPECT_TRUE(bitwise_equal(a[i].images, b[i].images)) << "batch " << i;
    EXPECT_TRUE(bitwise_equal(a[i].labels, b[i].labels)) << "batch " << i;
  }
}

std::vector<std::string> ids_of(const std::vector<Batch>& batches) {
  std::vector<std::string> ids;
  for (const Batch& b : batches) ids.insert(ids.end(), b.ids.begin(), b.ids.end());
  return ids;
}

}  // namespace

TEST(Loader, SameSeedSameBatchesWithOneAndThreeWorkers) {
  ScriptedDataset ds(19);
  ds.jitter = true;  // workers finish out of order
  DataLoader one(ds, small_options(1)), three(ds, small_options(3));
  EXPECT_EQ(one.batches_per_epoch(), 4);  // 19 / 4, last partial batch dropped
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    const std::vector<Batch> a = whole_epoch(one, epoch), b = whole_epoch(three, epoch);
    ASSERT_EQ(a.size(), 4u);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].images.shape(), (Shape{4, 10, 9, 3}));
      EXPECT_EQ(a[i].labels.shape(), (Shape{4, 10, 9}));
      EXPECT_EQ(a[i].epoch, epoch);
      EXPECT_EQ(a[i].index_in_epoch, static_cast<int64_t>(i));
    }
    expect_same_batches(a, b);
  }
  // A different seed gives different batches.
  LoaderOptions other = small_options(2);
  other.seed = 43;
  DataLoader different(ds, other);
  EXPECT_NE(ids_of(whole_epoch(different, 0)), ids_of(whole_epoch(one, 0)));
}

// pin_memory: the same batches, in pinned host memory where a CUDA device is visible (plain memory elsewhere).
TEST(Loader, PinnedBatchesHoldTheSameData) {
  ScriptedDataset ds(9);
  LoaderOptions pinned_options = small_options(2);
  pinned_options.pin_memory = true;
  DataLoader plain(ds, small_options(2)), pinned(ds, pinned_options);
  const std::vector<Batch> a = whole_epoch(plain, 0), b = whole_epoch(pinned, 0);
  expect_same_batches(a, b);
  for (const Batch& batch : b) {
    EXPECT_EQ(batch.images.is_pinned(), cuda_available());
    EXPECT_EQ(batch.labels.is_pinned(), cuda_available());
  }
  for (const Batch& batch : a) EXPECT_FALSE(batch.images.is_pinned());
}

TEST(Loader, ShuffleDiffersBetweenEpochsAndCoversEveryImage) {
  ScriptedDataset ds(10);
  LoaderOptions o = small_options(2);
  o.drop_last = false;
  DataLoader loader(ds, o);
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  const std::vector<Batch> e0 = whole_epoch(loader, 0), e1 = whole_epoch(loader, 1);
  ASSERT_EQ(e0.size(), 3u);
  EXPECT_EQ(e0.back().images.size(0), 2);  // the partial last batch
  const std::vector<std::string> ids0 = ids_of(e0), ids1 = ids_of(e1);
  EXPECT_EQ(std::set<std::string>(ids0.begin(), ids0.end()).size(), 10u);
  EXPECT_EQ(std::set<std::string>(ids1.begin(), ids1.end()).size(), 10u);
  EXPECT_NE(ids0, ids1);

  o.shuffle = false;
  DataLoader ordered(ds, o);
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) expected.push_back("img_" + std::to_string(i));
  EXPECT_EQ(ids_of(whole_epoch(ordered, 0)), expected);
  // Same order, but a fresh augmentation each epoch.
  const std::vector<Batch> o0 = whole_epoch(ordered, 0), o1 = whole_epoch(ordered, 1);
  EXPECT_EQ(ids_of(o1), expected);
  EXPECT_FALSE(same_bits(o0[0].images, o1[0].images));
}

TEST(Loader, SkipBatchesEqualsDroppingTheFirstBatches) {
  ScriptedDataset ds(22);
  ds.jitter = true;
  DataLoader full(ds, small_options(2)), resumed(ds, small_options(3));
  const std::vector<Batch> all = whole_epoch(full, 3);
  ASSERT_EQ(all.size(), 5u);
  const std::vector<Batch> tail = whole_epoch(resumed, 3, 2);
  expect_same_batches(std::vector<Batch>(all.begin() + 2, all.end()), tail);
  EXPECT_TRUE(whole_epoch(resumed, 3, 5).empty());
  expect_error([&] { resumed.start_epoch(3, 6); }, {"skip_batches", "[0, 5]", "6"});
}

TEST(Loader, RestartingMidEpochDropsTheOldWork) {
  ScriptedDataset ds(16);
  ds.jitter = true;
  DataLoader loader(ds, small_options(3)), fresh(ds, small_options(1));
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  expect_same_batches(whole_epoch(loader, 1), whole_epoch(fresh, 1));
  // Past the end, next() keeps saying so.
  EXPECT_FALSE(loader.next().has_value());
  EXPECT_FALSE(loader.next().has_value());
}

TEST(Loader, WorkerErrorIsRethrownFromNextNamingTheFile) {
  ScriptedDataset ds(12);
  ds.fail = {5};
  LoaderOptions o = small_options(3);
  o.shuffle = false;
  DataLoader loader(ds, o);
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());  // batch 0: images 0..3
  expect_error([&] { loader.next(); }, {"/data/img_5.png", "CRC error"});
  // The failed batch is consumed; the next one is fine.
  std::optional<Batch> last = loader.next();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->index_in_epoch, 2);
  EXPECT_EQ(last->ids.front(), "img_8");
  EXPECT_FALSE(loader.next().has_value());
}

TEST(Loader, WithoutAugmentationBatchesWholeImages) {
  ScriptedDataset ds(6);
  LoaderOptions o = small_options(2);
  o.augment = false;
  o.shuffle = false;
  o.batch_size = 3;
  o.preprocessing = caffe_bgr_preprocessing();
  DataLoader loader(ds, o);
  const std::vector<Batch> batches = whole_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].images.shape(), (Shape{3, 12, 12, 3}));
  const LabeledImage s = ds.get(4);
  EXPECT_TRUE(bitwise_equal(batches[1].images.slice(0, 1, 2), preprocess(s.image, o.preprocessing)));
  EXPECT_TRUE(bitwise_equal(batches[1].labels.slice(0, 1, 2), s.label.reshape({1, 12, 12})));

  ds.uneven = true;  // image 3 is taller than the others
  DataLoader uneven(ds, o);
  uneven.start_epoch(0);
  EXPECT_TRUE(uneven.next().has_value());
  expect_error([&] { uneven.next(); }, {"'img_4'", "'img_3'", "same size"});
}

TEST(Loader, PrefetchIsBounded) {
  ScriptedDataset ds(40);
  LoaderOptions o = small_options(3);
  o.batch_size = 2;
  o.prefetch_batches = 2;
  DataLoader loader(ds, o);
  loader.start_epoch(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // Never more than prefetch_batches batches ahead of the consumer, however long it waits.
  EXPECT_LE(ds.reads.load(), 4);
  ASSERT_TRUE(loader.next().has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_LE(ds.reads.load(), 6);
}

TEST(Loader, DestructionNeverHangs) {
  ScriptedDataset ds(64);
  ds.slow = true;
  { DataLoader never_started(ds, small_options(2)); }
  {
    // Workers blocked on a full queue.
    DataLoader full(ds, small_options(3));
    full.start_epoch(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
  }
  {
    // Mid-epoch, workers busy reading.
    DataLoader busy(ds, small_options(3));
    busy.start_epoch(0);
    ASSERT_TRUE(busy.next().has_value());
  }
  {
    // With an error waiting in the queue.
    ds.fail = {0, 1, 2, 3};
    LoaderOptions o = small_options(2);
    o.shuffle = false;
    DataLoader failing(ds, o);
    failing.start_epoch(0);
  }
  SUCCEED();
}

TEST(Loader, BadUseIsAnError) {
  ScriptedDataset ds(3);
  LoaderOptions o = small_options(1);
  expect_error([&] { DataLoader loader(ds, o); }, {"fewer images (3)", "batch (4)", "drop_last"});
  o.batch_size = 0;
  expect_error([&] { DataLoader loader(ds, o); }, {"batch_size", "0"});
  o.batch_size = 1;
  o.workers = 0;
  expect_error([&] { DataLoader loader(ds, o); }, {"workers"});
  o.workers = 1;
  o.augmentation.crop_height = 0;
  expect_error([&] { DataLoader loader(ds, o); }, {"crop size"});
  o.augmentation.crop_height = 8;
  DataLoader loader(ds, o);
  expect_error([&] { loader.next(); }, {"start_epoch"});
}

// Data-parallel shards: shard r of n yields images [r*b, (r+1)*b) of each global batch of n*b, with the very
// augmentation one loader of batch n*b gives them (so N ranks see what one process would).
TEST(Loader, ShardsSplitEveryGlobalBatchAndKeepItsAugmentation) {
  ScriptedDataset ds(27);
  LoaderOptions global = small_options(2);
  global.batch_size = 6;
  DataLoader whole(ds, global);
  LoaderOptions shard = small_options(2);
  shard.batch_size = 2;
  shard.shard_count = 3;
  std::vector<std::vector<Batch>> shards;
  for (int r = 0; r < 3; ++r) {
    shard.shard_index = r;
    DataLoader loader(ds, shard);
    EXPECT_EQ(loader.batches_per_epoch(), 4);  // 27 / 6: the global batch decides what is dropped
    shards.push_back(whole_epoch(loader, 1, /*skip=*/1));
  }
  const std::vector<Batch> expected = whole_epoch(whole, 1, 1);
  ASSERT_EQ(expected.size(), 3u);
  for (size_t k = 0; k < expected.size(); ++k) {
    for (int r = 0; r < 3; ++r) {
      SCOPED_TRACE("batch " + std::to_string(k) + ", shard " + std::to_string(r));
      const Batch& mine = shards[r][k];
      EXPECT_EQ(mine.index_in_epoch, expected[k].index_in_epoch);
      EXPECT_EQ(mine.ids, std::vector<std::string>(expected[k].ids.begin() + 2 * r, expected[k].ids.begin() + 2 * r + 2));
      EXPECT_TRUE(bitwise_equal(mine.images, expected[k].images.slice(0, 2 * r, 2 * r + 2)));
      EXPECT_TRUE(bitwise_equal(mine.labels, expected[k].labels.slice(0, 2 * r, 2 * r + 2)));
    }
  }
  shard.shard_index = 3;
  expect_error([&] { DataLoader loader(ds, shard); }, {"shard_index", "3 of 3"});
  shard.shard_index = 0;
  shard.drop_last = false;
  expect_error([&] { DataLoader loader(ds, shard); }, {"drop_last", "3 shards"});
  shard.drop_last = true;
  shard.batch_size = 10;
  expect_error([&] { DataLoader loader(ds, shard); }, {"fewer images (27)", "batch (10 x 3 shards)"});
}

TEST(Loader, SyntheticDatasetEndToEnd) {
  DatasetSpec spec;
  spec.kind = "synthetic";
  spec.synthetic_size = 24;
  spec.synthetic_count = 8;
  auto ds = open_dataset(spec);
  LoaderOptions o = small_options(2);
  o.augmentation.crop_height = o.augmentation.crop_width = 16;
  o.preprocessing = imagenet_rgb_preprocessing();
  DataLoader loader(*ds, o);
  const std::vector<Batch> batches = whole_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  for (const Batch& b : batches) {
    EXPECT_EQ(b.images.shape(), (Shape{4, 16, 16, 3}));
    for (double l : b.labels.to_double_vector()) ASSERT_TRUE(l < spec.synthetic_classes || l == 255);
  }
}

// End to end on files: a CamVid-shaped folder with one truncated JPEG; the error reaches next() naming that file.
class LoaderOnFiles : public ScratchDirTest {};

TEST_F(LoaderOnFiles, CorruptJpegInACamvidFolderIsNamedByNext) {
  std::filesystem::create_directories(dir() / "train");
  std::filesystem::create_directories(dir() / "trainannot");
  std::ofstream list(path("train.txt"));
  for (int i = 0; i < 6; ++i) {
    const std::string name = "f" + std::to_string(i);
    write_jpeg(path("train/" + name + ".jpg"), Tensor::full({20, 24, 3}, 40.0 * i, DType::u8));
    write_png(path("trainannot/" + name + ".png"), Tensor::full({20, 24}, i, DType::u8));
    list << "train/" << name << ".jpg trainannot/" << name << ".png\n";
  }
  list.close();
  const std::string jpeg = read_bytes(path("train/f4.jpg"));
  write_raw("train/f4.jpg", jpeg.substr(0, jpeg.size() / 2));
  DatasetSpec spec{"camvid", dir().string(), "train"};
  auto ds = open_dataset(spec);
  LoaderOptions o = small_options(2);
  o.batch_size = 2;
  o.shuffle = false;
  o.augmentation.crop_height = o.augmentation.crop_width = 16;
  DataLoader loader(*ds, o);
  loader.start_epoch(0);
  for (int k = 0; k < 2; ++k) {
    std::optional<Batch> b = loader.next();
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->images.shape(), (Shape{2, 16, 16, 3}));
    // Label i (or the void value 11 in padding) stays with image i.
    for (double l : b->labels.slice(0, 1, 2).to_double_vector()) ASSERT_TRUE(l == 2 * k + 1 || l == 11);
  }
  expect_error([&] { loader.next(); }, {"train/f4.jpg"});
  EXPECT_FALSE(loader.next().has_value());
}
