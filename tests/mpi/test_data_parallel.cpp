// Data-parallel training, run by ctest as `mpirun -np 2` (tests/CMakeLists.txt): the collectives; 2 ranks of batch 2
// train exactly as 1 process of batch 4 (a model without BN; and a BN model with sync BN, which plain BN does not
// match); a 2-rank checkpoint resumes in 1 process; the device path (CUDA, or the CUDA simulator) over MPI.
// Every rank runs every test, so every rank makes the same collective calls in the same order.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/atrous.h"
#include "dist/communicator.h"
#include "dist/gradient_reduction.h"
#include "dist/sync_batch_norm.h"
#include "support/plain_net.h"
#include "support/test_helpers.h"
#include "support/tiny_model.h"
#include "train/trainer.h"

using namespace atrous;
using namespace atrous::testing;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<dist::Communicator> ranks() { return dist::world(); }

std::unique_ptr<SegmentationDataset> shapes(int64_t count) {
  DatasetSpec spec;
  spec.kind = "synthetic";
  spec.split = "train";
  spec.synthetic_size = 32;
  spec.synthetic_classes = 4;
  spec.synthetic_count = count;
  spec.synthetic_seed = 11;
  return open_dataset(spec);
}

// Random scale and flip, and crops padded with the ignore label: each rank's slice has its own valid-pixel count.
LoaderOptions per_rank_loader(int batch, const Preprocessing& preprocessing) {
  LoaderOptions l;
  l.batch_size = batch;
  l.augmentation.crop_height = l.augmentation.crop_width = 32;
  l.augmentation.scale_min = 0.6;
  l.augmentation.scale_max = 1.2;
  l.augmentation.flip = true;
  l.preprocessing = preprocessing;
  l.workers = 1;
  l.seed = 23;
  return l;
}

TrainerOptions options(int64_t iterations, std::shared_ptr<dist::Communicator> comm) {
  TrainerOptions o;
  o.max_iterations = iterations;
  o.sgd = SgdOptions{0.02, 0.9, 5e-4, false};
  o.lr_policy.kind = LrSchedule::poly;
  o.lr_policy.base_lr = 0.02;
  o.lr_policy.max_iterations = iterations;
  o.progress = false;
  o.ranks = std::move(comm);
  return o;
}

double largest_difference(const Module& a, const Module& b) {
  double worst = 0;
  for (const auto& [name, t] : a.state_dict()) {
    const Tensor x = t.to(Device::cpu()).to(DType::f64).contiguous(), y = b.state_dict().at(name).to(Device::cpu()).to(DType::f64).contiguous();
    for (int64_t i = 0; i < x.numel(); ++i)
      worst = std::max(worst, std::abs(x.data<double>()[i] - y.data<double>()[i]) / (1 + std::abs(y.data<double>()[i])));
  }
  return worst;
}

// A folder every rank agrees on: rank 0's temporary name, broadcast.
std::string shared_folder(dist::Communicator& comm) {
  char name[256] = {};
  if (comm.is_root()) {
    const std::string path = (fs::temp_directory_path() / ("atrous_dp_" + std::to_string(::getpid()))).string();
    std::strncpy(name, path.c_str(), sizeof name - 1);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  comm.broadcast(name, sizeof name, 0);
  return name;
}

}  // namespace

TEST(DataParallel, RunsOnTwoRanks) {
  ASSERT_EQ(ranks()->size(), 2) << "this binary runs under mpirun -np 2 (ctest does that)";
  EXPECT_EQ(ranks()->backend(), "mpi");
}

TEST(DataParallel, CollectivesSumBroadcastAndGather) {
  dist::Communicator& comm = *ranks();
  const int r = comm.rank();
  std::vector<float> f{1.0f + r, 10.0f * r};
  std::vector<double> d{0.5 * r, -1.0};
  std::vector<int64_t> i{int64_t(1) << (40 + r)};
  comm.all_reduce_sum(f.data(), 2);
  comm.all_reduce_sum(d.data(), 2);
  comm.all_reduce_sum(i.data(), 1);
  EXPECT_EQ(f, (std::vector<float>{3.0f, 10.0f}));
  EXPECT_EQ(d, (std::vector<double>{0.5, -2.0}));
  EXPECT_EQ(i[0], (int64_t(1) << 40) + (int64_t(1) << 41));
  int64_t value = r == 1 ? 77 : -1;
  comm.broadcast(&value, sizeof value, 1);
  EXPECT_EQ(value, 77);
  const int32_t mine = 100 + r;
  const std::vector<uint8_t> all = comm.all_gather(&mine, sizeof mine);
  ASSERT_EQ(all.size(), 8u);
  EXPECT_EQ(reinterpret_cast<const int32_t*>(all.data())[0], 100);
  EXPECT_EQ(reinterpret_cast<const int32_t*>(all.data())[1], 101);
  Tensor t = Tensor::from_vector(std::vector<float>{float(r), 2.0f}, {2});
  dist::all_reduce_sum(comm, t);
  EXPECT_EQ(t.data<float>()[0], 1.0f);
  EXPECT_EQ(t.data<float>()[1], 4.0f);
}

// The op itself: each rank normalises half of a batch; outputs, input gradients, running statistics and the summed
// weight/bias gradients are those of batch_norm on the whole batch (f64, so to rounding).
TEST(DataParallel, BucketsStartDuringBackwardAndSumLikeTheBlockingReduction) {
  // Parameters of 12 B, 24 MB, 4 KB and 24 MB: four buckets (16 MB at most, a larger parameter alone). Rank 1's
  // backward does not reach `b` at all (a zero there), no rank's reaches `unused` (it keeps no gradient).
  dist::Communicator& comm = *ranks();
  const int r = comm.rank();
  const int64_t big = int64_t(6) << 20;
  Tensor a = Tensor::full({big}, 1.0f).set_requires_grad(true);
  Tensor b = Tensor::full({1024}, 1.0f).set_requires_grad(true);
  Tensor c = Tensor::full({big}, 1.0f).set_requires_grad(true);
  Tensor unused = Tensor::full({3}, 1.0f).set_requires_grad(true);
  dist::GradientReducer reducer(comm, {unused, a, b, c});
  for (int step = 0; step < 2; ++step) {  // the reducer is reused from step to step
    for (Tensor* t : {&a, &b, &c}) t->zero_grad();
    Tensor y = add(sum(scale(a, 1.0 + r)), sum(scale(c, 3.0)));
    if (r == 0) y = add(y, sum(scale(b, 5.0)));
    {
      const auto overlap = reducer.overlap_with_backward();
      y.backward();
    }
    const dist::GradientReductionStats stats = reducer.finish();
    EXPECT_EQ(stats.buckets, 4);
    EXPECT_EQ(stats.bytes, (2 * big + 1024 + 3) * 4);
    // Buckets start in reverse parameter order, each after the one before: c, b, a during rank 0's backward, then
    // `unused` (never completed) in finish(); on rank 1 b's bucket never completes, and a's waits behind it.
    EXPECT_EQ(stats.buckets_started_in_backward, r == 0 ? 3 : 1) << "rank " << r;
    EXPECT_EQ(a.grad().to_double_vector(), std::vector<double>(big, 3.0));  // 1 + 2
    EXPECT_EQ(b.grad().to_double_vector(), std::vector<double>(1024, 5.0));
    EXPECT_EQ(c.grad().to_double_vector(), std::vector<double>(big, 6.0));
    EXPECT_FALSE(unused.grad().defined());
  }
}

TEST(DataParallel, SyncBatchNormOnHalvesEqualsBatchNormOnTheWhole) {
  dist::Communicator& comm = *ranks();
  Generator gen(31);
  const Tensor x_all = Tensor::randn({4, 3, 5, 6}, gen, DType::f64), g_all = Tensor::randn({4, 3, 5, 6}, gen, DType::f64);
  Tensor w_all = Tensor::randn({6}, gen, DType::f64).set_requires_grad(true);
  Tensor b_all = Tensor::randn({6}, gen, DType::f64).set_requires_grad(true);
  Tensor w = w_all.detach().clone().set_requires_grad(true), b = b_all.detach().clone().set_requires_grad(true);
  Tensor rm_all = Tensor::zeros({6}, DType::f64), rv_all = Tensor::ones({6}, DType::f64);
  Tensor rm = rm_all.clone(), rv = rv_all.clone();
  const int64_t lo = 2 * comm.rank(), hi = lo + 2;
  Tensor x_all_leaf = x_all.clone().set_requires_grad(true);
  Tensor x = x_all.slice(0, lo, hi).contiguous().set_requires_grad(true);

  BatchNormParams params;
  params.momentum = 0.3;
  const Tensor y_all = batch_norm(x_all_leaf, w_all, b_all, rm_all, rv_all, params);
  const Tensor y = dist::sync_batch_norm(x, w, b, rm, rv, params, comm);
  expect_close(y, y_all.slice(0, lo, hi), 1e-12);
  expect_close(rm, rm_all, 1e-12);
  expect_close(rv, rv_all, 1e-12);

  y_all.backward(g_all);
  y.backward(g_all.slice(0, lo, hi).contiguous());
  expect_close(x.grad(), x_all_leaf.grad().slice(0, lo, hi), 1e-12);
  Tensor dw = w.grad().clone(), db = b.grad().clone();
  dist::all_reduce_sum(comm, dw);
  dist::all_reduce_sum(comm, db);
  expect_close(dw, w_all.grad(), 1e-12);
  expect_close(db, b_all.grad(), 1e-12);
}

TEST(DataParallel, TwoRanksOfBatchTwoTrainAsOneProcessOfBatchFour) {
  auto comm = ranks();
  const auto data = shapes(16);
  // Rank 1 builds its model from another seed: training must start from rank 0's weights anyway.
  Generator g_dp(9 + comm->rank()), g_ref(9), g_start(9);
  PlainNet distributed(4, g_dp), reference(4, g_ref), start(4, g_start);
  std::vector<double> dp_losses, ref_losses;
  TrainerOptions o = options(4, comm);
  o.class_weights = {0.5f, 1.0f, 2.0f, 1.5f};
  o.on_step = [&](int64_t, double loss, double) { dp_losses.push_back(loss); };
  Trainer dp(distributed, *data, per_rank_loader(2, distributed.definition().preprocessing), o);
  const TrainResult result = dp.train();
  EXPECT_EQ(result.ranks, 2);
  // Dropout: rank 0 draws from the configured seed (what checkpoints record), rank 1 from another stream.
  const uint64_t seed = default_generator().seed();
  const std::vector<uint8_t> seeds = comm->all_gather(&seed, sizeof seed);
  EXPECT_EQ(reinterpret_cast<const uint64_t*>(seeds.data())[0], o.dropout_seed);
  EXPECT_NE(reinterpret_cast<const uint64_t*>(seeds.data())[1], o.dropout_seed);
  EXPECT_EQ(result.bytes_all_reduced_per_step, distributed.parameter_count() * 4);

  o.ranks = std::make_shared<dist::SingleProcess>();
  o.on_step = [&](int64_t, double loss, double) { ref_losses.push_back(loss); };
  Trainer one(reference, *data, per_rank_loader(4, reference.definition().preprocessing), o);
  one.train();
  ASSERT_EQ(dp_losses.size(), 4u);
  for (size_t s = 0; s < 4; ++s) EXPECT_NEAR(dp_losses[s], ref_losses[s], 1e-5 * (1 + ref_losses[s])) << "step " << s;
  EXPECT_LT(largest_difference(distributed, reference), 1e-5);
  EXPECT_GT(largest_difference(start, reference), 1e-3) << "the weights must have moved for the test to mean anything";
}

TEST(DataParallel, SyncBatchNormMatchesOneProcessAndPlainBatchNormDoesNot) {
  auto comm = ranks();
  const auto data = shapes(16);
  auto reference = tiny(3), synced = tiny(3), local = tiny(3);
  TrainerOptions o = options(3, comm);
  o.bn = BnPolicy{BnPolicyMode::sync, 0.1, 0.9997};
  Trainer a(*synced, *data, per_rank_loader(2, synced->definition().preprocessing), o);
  a.train();
  o.bn = BnPolicy{BnPolicyMode::train, 0.1, 0.9997};
  Trainer b(*local, *data, per_rank_loader(2, local->definition().preprocessing), o);
  b.train();
  o.ranks = std::make_shared<dist::SingleProcess>();
  Trainer c(*reference, *data, per_rank_loader(4, reference->definition().preprocessing), o);
  c.train();
  // Running statistics included: they are the global batch's too.
  EXPECT_LT(largest_difference(*synced, *reference), 1e-4);
  EXPECT_GT(largest_difference(*local, *reference), 1e-3);
}

TEST(DataParallel, ATwoRankCheckpointResumesInOneProcess) {
  auto comm = ranks();
  const std::string folder = shared_folder(*comm);
  const auto data = shapes(16);
  Generator g_dp(5), g_ref(5), g_resumed(5);
  PlainNet distributed(4, g_dp), reference(4, g_ref), resumed(4, g_resumed);
  TrainerOptions o = options(4, comm);
  o.max_iterations = 2;  // the run stops at 2 of the schedule's 4 and writes its checkpoint
  o.out_dir = folder;
  o.write_plot = false;
  Trainer dp(distributed, *data, per_rank_loader(2, distributed.definition().preprocessing), o);
  dp.train();
  comm->barrier();  // rank 0 has written the checkpoint
  if (comm->is_root()) {
    TrainerOptions single = options(4, std::make_shared<dist::SingleProcess>());
    Trainer one(reference, *data, per_rank_loader(4, reference.definition().preprocessing), single);
    one.train();
    single.out_dir = folder;
    single.write_plot = false;
    Trainer again(resumed, *data, per_rank_loader(4, resumed.definition().preprocessing), single);
    again.resume(folder + "/checkpoint.safetensors");
    EXPECT_EQ(again.iteration(), 2);
    again.train();
    EXPECT_LT(largest_difference(resumed, reference), 1e-5);
    // Another global batch would read other samples from the saved position: refused, saying why.
    PlainNet other(4, g_ref);
    Trainer wrong(other, *data, per_rank_loader(2, other.definition().preprocessing), single);
    expect_error([&] { wrong.resume(folder + "/checkpoint.safetensors"); }, {"global batch of 4", "1 ranks x 2"});
    fs::remove_all(folder);
  }
  comm->barrier();
}

TEST(DataParallel, DeviceTrainingOverMpiMatchesTheCpu) {
  ATROUS_REQUIRE_CUDA();
  auto comm = ranks();
  const auto data = shapes(8);
  Generator g_dev(7), g_ref(7);
  PlainNet on_device(4, g_dev), reference(4, g_ref);
  TrainerOptions o = options(2, comm);
  o.device = Device::cuda();
  Trainer dp(on_device, *data, per_rank_loader(2, on_device.definition().preprocessing), o);
  dp.train();
  TrainerOptions single = options(2, std::make_shared<dist::SingleProcess>());
  Trainer one(reference, *data, per_rank_loader(4, reference.definition().preprocessing), single);
  one.train();
  EXPECT_LT(largest_difference(on_device, reference), 1e-4);
}
