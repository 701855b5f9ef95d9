// A hand-written training loop against the library API: model, data, loss, backward, SGD step, evaluation.
// Exits non-zero if the loss does not fall, so CI notices when training breaks.
#include <cstdio>

#include "core/atrous.h"
#include "data/synthetic.h"
#include "eval/metrics.h"
#include "models/tiny_deeplab.h"
#include "solvers/sgd.h"

using namespace atrous;

int main() {
  SyntheticConfig data;
  data.height = data.width = 32;
  data.num_classes = 3;
  Generator gen(1);
  TinyDeepLabConfig config;
  config.num_classes = data.num_classes;
  config.width = 8;
  TinyDeepLab model(config, gen);
  Sgd sgd(model.param_groups(), SgdOptions{/*lr=*/0.05, /*momentum=*/0.9, /*weight_decay=*/1e-4, /*nesterov=*/false});

  double first = 0, last = 0;
  const int steps = 40;
  for (int step = 0; step < steps; ++step) {
    SegmentationBatch batch = make_synthetic_batch(data, step * 4, 4);
    Tensor logits = model.segment(batch.images);
    Tensor loss = softmax_cross_entropy(logits, batch.labels);
    sgd.zero_grad();
    loss.backward();
    sgd.step();
    const double value = loss.item<double>();
    if (step < 5) first += value / 5;
    if (step >= steps - 5) last += value / 5;
    if (step % 10 == 0) std::printf("step %2d loss %.4f\n", step, value);
  }

  NoGradGuard no_grad;
  model.eval();
  ConfusionMatrix confusion(data.num_classes);
  SegmentationBatch held_out = make_synthetic_batch(data, 100000, 8);
  confusion.add(argmax_channels(model.segment(held_out.images)), held_out.labels);
  std::printf("mean loss first 5 steps %.4f, last 5 steps %.4f; held-out mIoU %.3f\n", first, last,
              confusion.mean_iou());
  return last < first ? 0 : 1;
}
