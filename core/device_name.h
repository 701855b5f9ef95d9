// Devices as people write them ("cpu", "cuda", "cuda:1": the `--device` option, the `device` key of config files)
// and the check that a device can be used in this build on this machine, with errors that say why not.
#pragma once
#include <string>

#include "core/device.h"

namespace atrous {

// "cpu", "cuda" (device 0) or "cuda:N". Only the spelling is checked, so settings naming a GPU can be printed and
// validated on a machine without one. Errors name `what` (e.g. "--device"), the text and the accepted forms.
Device device_from_name(const std::string& text, const std::string& what = "device");

// Errors unless `device` can hold tensors here: CUDA in a CPU-only build (the message says so and how to build with
// CUDA), no CUDA device visible, or an index past the visible devices (the message says how many there are).
// `who` starts the message ("Trainer", "--device cuda:1").
void require_device_available(Device device, const std::string& who);

// device_from_name, then require_device_available: what a command takes from --device.
Device parse_device(const std::string& text, const std::string& what = "device");

}  // namespace atrous
