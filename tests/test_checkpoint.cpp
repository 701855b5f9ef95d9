// Module weights and training checkpoints: exact resume of TinyDeepLab training (bit for bit), module load reports
// and errors, checkpoint metadata round trips, and every mismatch rejected before anything changes.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "core/atrous.h"
#include "data/synthetic.h"
#include "models/tiny_deeplab.h"
#include "support/test_helpers.h"
#include "train/checkpoint.h"

using namespace atrous;
using namespace atrous::testing;
namespace fs = std::filesystem;

namespace {

class CheckpointTest : public ScratchDirTest {};

TinyDeepLabConfig tiny_config(int width = 8) {
  TinyDeepLabConfig c;
  c.width = width;
  c.num_classes = 4;
  return c;
}

const SyntheticConfig kData{32, 32, 4, 3, 11};
constexpr int kBatch = 2;

// A trainer's loop in miniature: batches drawn through a generator, an lr that decays from its previous value
// (so it must come from the checkpoint), SGD with momentum and weight decay.
struct MiniTrainer {
  Generator init_rng;
  TinyDeepLab model;
  Sgd sgd;
  Generator data_rng;
  int64_t iteration = 0;

  MiniTrainer(uint64_t init_seed, double lr, uint64_t data_seed, MomentumStyle style = MomentumStyle::pytorch)
      : init_rng(init_seed),
        model(tiny_config(), init_rng),
        sgd(model.param_groups(), SgdOptions{lr, 0.9, 5e-4, false, style}),
        data_rng(data_seed) {}

  void steps(int count) {
    for (int s = 0; s < count; ++s, ++iteration) {
      const int64_t first = static_cast<int64_t>(data_rng.next_uniform() * 1000);
      const SegmentationBatch batch = make_synthetic_batch(kData, first, kBatch);
      sgd.zero_grad();
      Tensor loss = softmax_cross_entropy(model.segment(batch.images), batch.labels);
      loss.backward();
      sgd.step();
      sgd.set_lr(sgd.lr() * 0.97);
    }
  }
  TrainingState state() const {
    TrainingState s;
    s.iteration = iteration;
    s.epoch = iteration / 4;
    s.data_rng = GeneratorState::of(data_rng);
    s.dropout_rng = GeneratorState::of(default_generator());
    return s;
  }
};

void expect_same_training_state(const MiniTrainer& a, const MiniTrainer& b) {
  const auto pa = a.model.state_dict(), pb = b.model.state_dict();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& [name, t] : pa) EXPECT_TRUE(same_bits(t, pb.at(name))) << name;
  const auto& va = a.sgd.momentum_buffers();
  const auto& vb = b.sgd.momentum_buffers();
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < va.size(); ++i) {
    ASSERT_TRUE(va[i].defined());
    EXPECT_TRUE(same_bits(va[i], vb[i])) << "momentum buffer " << i;
  }
  EXPECT_EQ(a.sgd.lr(), b.sgd.lr());
  EXPECT_TRUE(GeneratorState::of(a.data_rng) == GeneratorState::of(b.data_rng));
  EXPECT_EQ(a.iteration, b.iteration);
}

}  // namespace

// ---- exact resume ----

TEST_F(CheckpointTest, ResumedTrainingEqualsStraightTrainingBitForBit) {
  constexpr int kSteps = 6;
  // Both momentum styles: the lr decays at every step, so a Caffe-style velocity (which holds lr * gradients) that
  // came back wrong or was treated as PyTorch's would show.
  for (MomentumStyle style : {MomentumStyle::pytorch, MomentumStyle::caffe}) {
    SCOPED_TRACE(momentum_styles().name_of(style));
    MiniTrainer straight(1, 0.01, 5, style);
    straight.steps(kSteps);

    {
      MiniTrainer first_half(1, 0.01, 5, style);
      first_half.steps(kSteps / 2);
      save_checkpoint(path("ckpt.safetensors"), first_half.model, first_half.sgd, first_half.state());
      EXPECT_EQ(SafetensorsFile(path("ckpt.safetensors")).metadata().at("optimizer.momentum_style"),
                momentum_styles().name_of(style));
    }
    // A fresh model (other initial weights), optimizer (other lr) and data generator: all must come from the file.
    MiniTrainer resumed(99, 0.5, 12345, style);
    const TrainingState state = load_checkpoint(path("ckpt.safetensors"), resumed.model, resumed.sgd);
    EXPECT_EQ(state.iteration, kSteps / 2);
    state.data_rng.restore(resumed.data_rng);
    resumed.iteration = state.iteration;
    resumed.steps(kSteps - kSteps / 2);

    expect_same_training_state(straight, resumed);
    // And training did move the weights away from the shared initialisation.
    Generator init_gen(1);
    TinyDeepLab initial(tiny_config(), init_gen);
    EXPECT_FALSE(same_bits(initial.state_dict().at("head0.weight"), straight.model.state_dict().at("head0.weight")));
  }
}

TEST_F(CheckpointTest, MomentumStylesDoNotMixAndOldCheckpointsArePytorchStyle) {
  MiniTrainer run(1, 0.1, 5);  // PyTorch-style
  run.steps(1);
  save_checkpoint(path("c.safetensors"), run.model, run.sgd, run.state());
  MiniTrainer caffe(2, 0.1, 5, MomentumStyle::caffe);
  caffe.steps(1);
  const Tensor w = caffe.model.state_dict().at("head0.weight").clone();
  const Tensor v = caffe.sgd.momentum_buffers()[0].clone();
  expect_error([&] { load_checkpoint(path("c.safetensors"), caffe.model, caffe.sgd); },
               {path("c.safetensors"), "momentum style 'pytorch'", "the optimizer uses 'caffe'", "cannot resume"});
  EXPECT_TRUE(same_bits(caffe.model.state_dict().at("head0.weight"), w));
  EXPECT_TRUE(same_bits(caffe.sgd.momentum_buffers()[0], v));
  // And the other way round.
  save_checkpoint(path("caffe.safetensors"), caffe.model, caffe.sgd, caffe.state());
  MiniTrainer pytorch(3, 0.1, 5);
  expect_error([&] { load_checkpoint(path("caffe.safetensors"), pytorch.model, pytorch.sgd); },
               {"momentum style 'caffe'", "the optimizer uses 'pytorch'"});
  // A checkpoint written before the style was recorded (no such key) holds PyTorch-style momentum.
  {
    const SafetensorsFile f(path("c.safetensors"));
    std::map<std::string, Tensor> tensors;
    for (const std::string& name : f.names()) tensors.emplace(name, f.load(name));
    std::map<std::string, std::string> meta = f.metadata();
    ASSERT_EQ(meta.erase("optimizer.momentum_style"), 1u);
    save_safetensors(path("old.safetensors"), tensors, meta);
  }
  MiniTrainer resumed(4, 0.1, 5);
  EXPECT_NO_THROW(load_checkpoint(path("old.safetensors"), resumed.model, resumed.sgd));
  EXPECT_TRUE(same_bits(resumed.sgd.momentum_buffers()[0], run.sgd.momentum_buffers()[0]));
  expect_error([&] { load_checkpoint(path("old.safetensors"), caffe.model, caffe.sgd); },
               {"momentum style 'pytorch'", "the optimizer uses 'caffe'"});
}

TEST_F(CheckpointTest, CheckpointLayoutAndMetadataAreExact) {
  MiniTrainer run(1, 0.1, 5);
  run.steps(1);
  TrainingState s = run.state();
  s.iteration = std::numeric_limits<int64_t>::max();
  s.epoch = -3;
  s.data_rng = {std::numeric_limits<uint64_t>::max(), (uint64_t(1) << 63) + 12345};
  s.dropout_rng = {0, 9007199254740993ull};  // 2^53 + 1: not representable as a double
  s.extra = {{"best_miou", "0.4375"}, {"run", "tiny \xe2\x9c\x93"}};
  run.sgd.set_lr(1e-3 / 3);
  save_checkpoint(path("c.safetensors"), run.model, run.sgd, s);

  const SafetensorsFile f(path("c.safetensors"));
  const auto& meta = f.metadata();
  EXPECT_EQ(meta.at("iteration"), "9223372036854775807");
  EXPECT_EQ(meta.at("rng.data.seed"), "18446744073709551615");
  EXPECT_EQ(meta.at("rng.dropout.offset"), "9007199254740993");
  EXPECT_EQ(meta.at("optimizer.momentum"), "0.90000000000000002");
  EXPECT_EQ(meta.at("extra.best_miou"), "0.4375");
  EXPECT_EQ(meta.at("model.type"), "TinyDeepLab");
  // Model tensors by state_dict name; one momentum buffer per trained parameter, by parameter name.
  for (const auto& [name, t] : run.model.state_dict()) {
    ASSERT_TRUE(f.contains("model." + name)) << name;
    EXPECT_TRUE(same_bits(f.load("model." + name), t)) << name;
  }
  for (const NamedTensor& p : run.model.named_parameters())
    EXPECT_TRUE(f.contains("optimizer.momentum." + p.name)) << p.name;
  EXPECT_TRUE(f.contains("model.stage1_bn.running_mean"));

  MiniTrainer other(2, 0.7, 6);
  const TrainingState back = load_checkpoint(path("c.safetensors"), other.model, other.sgd);
  EXPECT_EQ(back.iteration, s.iteration);
  EXPECT_EQ(back.epoch, -3);
  EXPECT_TRUE(back.data_rng == s.data_rng);
  EXPECT_TRUE(back.dropout_rng == s.dropout_rng);
  EXPECT_EQ(back.extra, s.extra);
  EXPECT_EQ(other.sgd.lr(), 1e-3 / 3);  // exact, not merely close
  EXPECT_EQ(listing(), std::vector<std::string>{"c.safetensors"});
}

TEST_F(CheckpointTest, MomentumBuffersNotYetCreatedStayUndefined) {
  MiniTrainer run(1, 0.1, 5);  // no step: no buffer exists
  save_checkpoint(path("c.safetensors"), run.model, run.sgd, run.state());
  for (const std::string& name : SafetensorsFile(path("c.safetensors")).names())
    EXPECT_EQ(name.rfind("optimizer.", 0), std::string::npos) << name;
  MiniTrainer trained(2, 0.1, 5);
  trained.steps(1);
  load_checkpoint(path("c.safetensors"), trained.model, trained.sgd);
  for (const Tensor& v : trained.sgd.momentum_buffers()) EXPECT_FALSE(v.defined());
}

// ---- checkpoint mismatches: errors name the tensor or setting, and nothing changes ----

TEST_F(CheckpointTest, MismatchesAreRejectedBeforeAnythingChanges) {
  MiniTrainer run(1, 0.1, 5);
  run.steps(1);
  save_checkpoint(path("c.safetensors"), run.model, run.sgd, run.state());

  // A model of another width: the first tensor whose shape differs is named.
  {
    Generator gen(3);
    TinyDeepLab wide(tiny_config(12), gen);
    Sgd sgd(wide.param_groups(), SgdOptions{0.1, 0.9, 5e-4, false});
    const auto before = wide.state_dict();
    std::map<std::string, Tensor> copy;
    for (const auto& [n, t] : before) copy[n] = t.clone();
    expect_error([&] { load_checkpoint(path("c.safetensors"), wide, sgd); },
                 {path("c.safetensors"), "model.", "has shape", "expects"});
    for (const auto& [n, t] : wide.state_dict()) EXPECT_TRUE(same_bits(t, copy.at(n))) << n;
  }
  // Other optimizer settings.
  {
    MiniTrainer other(2, 0.1, 5);
    Sgd different(other.model.param_groups(), SgdOptions{0.1, 0.5, 5e-4, false});
    const Tensor w = other.model.state_dict().at("head0.weight").clone();
    expect_error([&] { load_checkpoint(path("c.safetensors"), other.model, different); },
                 {"momentum 0.90000000000000002", "the optimizer has 0.5"});
    EXPECT_TRUE(same_bits(other.model.state_dict().at("head0.weight"), w));
    Sgd nesterov(other.model.param_groups(), SgdOptions{0.1, 0.9, 5e-4, true});
    expect_error([&] { load_checkpoint(path("c.safetensors"), other.model, nesterov); }, {"without Nesterov momentum"});
  }
  // An optimizer over only some of the parameters: the others' buffers belong to nobody.
  {
    MiniTrainer other(2, 0.1, 5);
    std::vector<Tensor> some = {other.model.parameters()[0]};
    Sgd partial(some, SgdOptions{0.1, 0.9, 5e-4, false});
    expect_error([&] { load_checkpoint(path("c.safetensors"), other.model, partial); },
                 {"momentum buffer 'optimizer.momentum.", "belongs to no parameter"});
  }
  // A weights file is not a checkpoint.
  {
    save_module(path("w.safetensors"), run.model);
    MiniTrainer other(2, 0.1, 5);
    expect_error([&] { load_checkpoint(path("w.safetensors"), other.model, other.sgd); },
                 {path("w.safetensors"), "not an atrous checkpoint"});
  }
}

TEST_F(CheckpointTest, CorruptCheckpointContentsAreNamed) {
  MiniTrainer run(1, 0.1, 5);
  run.steps(1);
  save_checkpoint(path("c.safetensors"), run.model, run.sgd, run.state());
  const SafetensorsFile good(path("c.safetensors"));
  std::map<std::string, Tensor> tensors;
  for (const std::string& n : good.names()) tensors[n] = good.load(n);
  const std::map<std::string, std::string> meta = good.metadata();

  auto rewrite = [&](std::map<std::string, Tensor> t, std::map<std::string, std::string> m) {
    save_safetensors(path("bad.safetensors"), t, m);
    return path("bad.safetensors");
  };
  {
    auto m = meta;
    m["iteration"] = "12a";
    MiniTrainer other(2, 0.1, 5);
    expect_error([&] { load_checkpoint(rewrite(tensors, m), other.model, other.sgd); },
                 {"metadata 'iteration'", "'12a'", "not an integer"});
  }
  {
    auto m = meta;
    m["rng.data.offset"] = "18446744073709551616";  // 2^64
    MiniTrainer other(2, 0.1, 5);
    expect_error([&] { load_checkpoint(rewrite(tensors, m), other.model, other.sgd); }, {"'rng.data.offset'"});
  }
  {
    auto m = meta;
    m.erase("rng.dropout.seed");
    MiniTrainer other(2, 0.1, 5);
    expect_error([&] { load_checkpoint(rewrite(tensors, m), other.model, other.sgd); },
                 {"lacks 'rng.dropout.seed'"});
  }
  {
    auto t = tensors;
    t.erase("model.stage2_bn.running_var");
    MiniTrainer other(2, 0.1, 5);
    expect_error([&] { load_checkpoint(rewrite(t, meta), other.model, other.sgd); },
                 {"missing tensor 'model.stage2_bn.running_var'"});
  }
  {
    auto t = tensors;
    t["model.extra.weight"] = Tensor::ones({2});
    MiniTrainer other(2, 0.1, 5);
    expect_error([&] { load_checkpoint(rewrite(t, meta), other.model, other.sgd); },
                 {"unexpected tensor 'model.extra.weight'"});
    t.erase("model.extra.weight");
    t["stray"] = Tensor::ones({2});
    expect_error([&] { load_checkpoint(rewrite(t, meta), other.model, other.sgd); }, {"unexpected tensor 'stray'"});
  }
  {
    auto t = tensors;
    t["optimizer.momentum.head0.weight"] = Tensor::ones({3});
    MiniTrainer other(2, 0.1, 5);
    expect_error([&] { load_checkpoint(rewrite(t, meta), other.model, other.sgd); },
                 {"momentum buffer 'optimizer.momentum.head0.weight'", "has shape [3]"});
  }
}

TEST_F(CheckpointTest, SaveRejectsAnOptimizerOverForeignParametersAndKeepsTheOldFile) {
  MiniTrainer run(1, 0.1, 5);
  save_checkpoint(path("c.safetensors"), run.model, run.sgd, run.state());
  const auto before = fs::file_size(path("c.safetensors"));
  Tensor foreign = Tensor::ones({3}).set_requires_grad(true);
  Sgd sgd({foreign}, SgdOptions{});
  expect_error([&] { save_checkpoint(path("c.safetensors"), run.model, sgd, run.state()); },
               {"optimizer parameter #0", "not a parameter of TinyDeepLab"});
  std::vector<Tensor> twice = {run.model.parameters()[0], run.model.parameters()[0]};
  Sgd dup(twice, SgdOptions{});
  expect_error([&] { save_checkpoint(path("c.safetensors"), run.model, dup, run.state()); }, {"appears twice"});
  EXPECT_EQ(fs::file_size(path("c.safetensors")), before);
  EXPECT_EQ(listing(), std::vector<std::string>{"c.safetensors"});
  // load_checkpoint_model reads only the weights, whatever the optimizer.
  MiniTrainer other(2, 0.1, 5);
  EXPECT_TRUE(load_checkpoint_model(path("c.safetensors"), other.model).empty());
  EXPECT_TRUE(same_bits(other.model.state_dict().at("head1.bias"), run.model.state_dict().at("head1.bias")));
}

// ---- module weights ----

TEST_F(CheckpointTest, ModuleRoundTripIncludingBuffers) {
  MiniTrainer a(1, 0.1, 5);
  a.steps(1);  // running statistics differ from their initial values
  save_module(path("w.safetensors"), a.model, {{"source", "test"}});
  EXPECT_EQ(SafetensorsFile(path("w.safetensors")).metadata().at("source"), "test");
  Generator gen(2);
  TinyDeepLab b(tiny_config(), gen);
  EXPECT_TRUE(load_module(path("w.safetensors"), b).empty());
  for (const auto& [name, t] : a.model.state_dict()) EXPECT_TRUE(same_bits(b.state_dict().at(name), t)) << name;
  // Parameters stay trainable leaves after loading.
  for (const NamedTensor& p : b.named_parameters()) EXPECT_TRUE(p.tensor.requires_grad() && p.tensor.is_leaf());

  // f16 export: loads into the f32 model within half-precision rounding.
  save_module(path("h.safetensors"), a.model, {}, {SafetensorsFloat::f16});
  EXPECT_EQ(SafetensorsFile(path("h.safetensors")).info("head0.weight").dtype, "F16");
  EXPECT_TRUE(load_module(path("h.safetensors"), b).empty());
  const auto wa = a.model.state_dict().at("stage1_conv.weight").to_double_vector();
  const auto wb = b.state_dict().at("stage1_conv.weight").to_double_vector();
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_NEAR(wb[i], wa[i], std::abs(wa[i]) * 1e-3 + 1e-7);
  EXPECT_EQ(b.state_dict().at("stage1_conv.weight").dtype(), DType::f32);
}

TEST_F(CheckpointTest, ModuleLoadStrictErrorsAndNonStrictReport) {
  Generator gen_a(1), gen_b(2);
  TinyDeepLab a(tiny_config(), gen_a), b(tiny_config(), gen_b);
  std::map<std::string, Tensor> state = a.state_dict();
  state.erase("head2.bias");
  state["head0.weight"] = Tensor::ones({2, 2});
  state["aux.weight"] = Tensor::ones({1});
  save_safetensors(path("w.safetensors"), state);

  std::map<std::string, Tensor> original;
  for (const auto& [n, t] : b.state_dict()) original[n] = t.clone();
  expect_error([&] { load_module(path("w.safetensors"), b); }, {path("w.safetensors"), "'head0.weight'", "[2,2]"});
  for (const auto& [n, t] : b.state_dict()) EXPECT_TRUE(same_bits(t, original.at(n))) << "strict failure changed " << n;

  const std::vector<std::string> report = load_module(path("w.safetensors"), b, false);
  EXPECT_EQ(report, (std::vector<std::string>{"shape mismatch: head0.weight [2,2] vs [4,3,3,16]", "missing: head2.bias",
                                              "unexpected: aux.weight"}));
  EXPECT_TRUE(same_bits(b.state_dict().at("head1.weight"), a.state_dict().at("head1.weight")));
  EXPECT_TRUE(same_bits(b.state_dict().at("head0.weight"), original.at("head0.weight")));
  EXPECT_TRUE(same_bits(b.state_dict().at("head2.bias"), original.at("head2.bias")));

  // The same report words as Module::load_state_dict.
  Generator gen_c(3);
  TinyDeepLab c(tiny_config(), gen_c);
  EXPECT_EQ(c.load_state_dict(load_safetensors(path("w.safetensors")), false), report);

  state.erase("head0.weight");
  save_safetensors(path("m.safetensors"), state);
  expect_error([&] { load_module(path("m.safetensors"), b); }, {"missing tensor 'head0.weight'"});
  state["head0.weight"] = a.state_dict().at("head0.weight");
  save_safetensors(path("u.safetensors"), state);
  state["head2.bias"] = a.state_dict().at("head2.bias");
  save_safetensors(path("u.safetensors"), state);
  expect_error([&] { load_module(path("u.safetensors"), b); }, {"unexpected tensor 'aux.weight'"});
}
