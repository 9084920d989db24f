// An experiment's train section as the training graph's configuration
// (graphs/train_step.h): which adapter passes run, what is trainable, the
// optimizer and its schedule. Shared by graph-run (training) and pass-dump
// (showing @train_step between passes).
#pragma once

#include "graphs/train_step.h"
#include "runtime/experiment.h"

namespace graphc::tools {

TrainConfig train_config(const TrainOptions& o);

}  // namespace graphc::tools
