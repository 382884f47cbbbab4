// qa_nn_cli: `linksim train` and `linksim model-info` through the real binary. Bad training
// files, options, data files and model files give exit code 2 with a message naming the problem,
// never a crash; a tiny training run interrupted after one epoch continues from its checkpoint
// when run again, and model-info reports what the file is and how it was made.
#define BOOST_TEST_MODULE qa_nn_cli
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "qa_common.hpp"

#ifndef LINKSIM_BIN
#error "LINKSIM_BIN (path of the linksim binary) must be defined by the build"
#endif
#ifndef LINKSIM_SCENARIOS_DIR
#error "LINKSIM_SCENARIOS_DIR must be defined by the build"
#endif

namespace fs = std::filesystem;

namespace {

struct Result {
  int status = -1;  ///< exit code; 128 + signal when killed by a signal
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// Runs linksim with `args` in `cwd`, capturing stdout and stderr.
Result run_cli(const std::vector<std::string>& args, const fs::path& cwd) {
  static std::atomic<unsigned> counter{0};
  const std::string tag = std::to_string(counter++);
  const fs::path out = cwd / (".stdout" + tag), err = cwd / (".stderr" + tag);
  // Appended piece by piece (GCC 12 warns falsely on "literal" + std::string temporaries).
  std::string cmd = "cd ";
  cmd += quote(cwd.string());
  cmd += " && ";
  cmd += quote(LINKSIM_BIN);
  for (const auto& a : args) {
    cmd += ' ';
    cmd += quote(a);
  }
  cmd += " >";
  cmd += quote(out.string());
  cmd += " 2>";
  cmd += quote(err.string());
  cmd += " </dev/null";
  const int raw = std::system(cmd.c_str());
  Result r;
  if (raw != -1 && WIFEXITED(raw)) r.status = WEXITSTATUS(raw);
  if (raw != -1 && WIFSIGNALED(raw)) r.status = 128 + WTERMSIG(raw);
  r.out = qa::read_text(out);
  r.err = qa::read_text(err);
  return r;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string shown(const std::vector<std::string>& args) {
  std::string s = "linksim";
  for (const auto& a : args) s += " " + a;
  return s;
}

/// Checks that `linksim args` exited 2 with `part` in its message.
void expect_bad_input(const Result& r, const std::vector<std::string>& args,
                      const std::string& part) {
  BOOST_TEST(r.status == 2, shown(args) << ": exit " << r.status << ", stderr: " << r.err);
  BOOST_TEST(contains(r.err, part), shown(args) << ": stderr lacks '" << part << "': " << r.err);
}

/// A training scenario small enough for a test: CsiNet CR 64, 96 generated drops, 2 epochs.
const std::string kTiny =
    "description = tiny\n"
    "[model]\narch = csinet\ncr = 64\n"
    "[data]\nchannel = cost2100_indoor\nseed = 77\ntrain = 96\nval = 24\ntest = 16\n"
    "[train]\nbatch = 32\nepochs = 2\nschedule = cosine\nwarmup_epochs = 0.5\n"
    "[run]\nseed = 5\nthreads = 1\nmodel = out/tiny.lsnn\n";

}  // namespace

BOOST_AUTO_TEST_CASE(bad_training_input_exits_2_with_a_message) {
  const qa::TempDir dir("nn_cli_bad");
  qa::write_text(dir / "tiny.ini", kTiny);
  qa::write_text(dir / "not_hdf5.h5", "definitely not HDF5");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"train"}, "missing FILE"},
      {{"train", "nowhere.ini"}, "no such scenario file"},
      {{"train", "tiny.ini", "--set", "model.arch=csinet+"}, "choose one of: csinet, crnet"},
      {{"train", "tiny.ini", "--set", "model.cr=3"}, "cr must divide 2048"},
      {{"train", "tiny.ini", "--set", "model.arch=convcsinet", "--set", "model.cr=8"}, ""},
      {{"train", "tiny.ini", "--set", "train.lr=0"}, "train.lr"},
      {{"train", "tiny.ini", "--set", "train.schedule=exponential"}, "constant, step, cosine"},
      {{"train", "tiny.ini", "--set", "train.epochs=5,6"}, "cannot be swept"},
      {{"train", "tiny.ini", "--set", "train.bogus=1"}, "train.bogus"},
      {{"train", "tiny.ini", "--set", "run.model="}, "run.model"},
      {{"train", "tiny.ini", "--set", "data.file=missing.h5"}, "missing.h5"},
      {{"train", "tiny.ini", "--set", "data.file=not_hdf5.h5"}, "not_hdf5.h5"},
      {{"train", "tiny.ini", "--stop-after", "0"}, "--stop-after"},
      {{"model-info"}, "missing FILE"},
      {{"model-info", "nowhere.lsnn"}, "no such model file"},
      {{"model-info", "tiny.ini"}, "not a linksim model file"},
      {{"bench", "inference", "--model", "nowhere.lsnn"}, "--model"},
      {{"bench", "inference", "--prune", "1.5"}, "--prune"},
      {{"bench", "sideways"}, "montecarlo, inference"},
  };
  std::vector<std::future<Result>> running;
  for (const auto& c : cases) {
    // The convcsinet CR 8 case is valid (its own test below); it must not run a training here.
    if (c.second.empty()) continue;
    running.push_back(std::async(std::launch::async, [&] { return run_cli(c.first, dir.path()); }));
    if (running.size() == 3) {
      for (auto& f : running) f.wait();
    }
  }
  std::size_t i = 0;
  for (const auto& c : cases) {
    if (c.second.empty()) continue;
    expect_bad_input(running[i++].get(), c.first, c.second);
  }
  BOOST_TEST(!fs::exists(dir / "out" / "tiny.lsnn"));
}

BOOST_AUTO_TEST_CASE(train_interrupt_resume_and_model_info) {
  const qa::TempDir dir("nn_cli_train");
  qa::write_text(dir / "tiny.ini", kTiny);
  // First call: one epoch, as if interrupted.
  const Result first = run_cli({"train", "tiny.ini", "--stop-after", "1", "--no-plot"}, dir.path());
  BOOST_TEST(first.status == 0, first.err);
  BOOST_TEST(contains(first.err, "epoch 1/2"));
  BOOST_TEST(contains(first.err, "samples/s"));
  BOOST_TEST(contains(first.err, "ETA"));
  BOOST_TEST(fs::exists(dir / "out" / "tiny.ckpt"));
  BOOST_TEST(fs::exists(dir / "out" / "tiny.lsnn"));
  // Second call: continues from the checkpoint automatically.
  const Result second = run_cli({"train", "tiny.ini", "--no-plot"}, dir.path());
  BOOST_TEST(second.status == 0, second.err);
  BOOST_TEST(contains(second.err, "resuming"), second.err);
  BOOST_TEST(!contains(second.err, "epoch 1/2"));
  BOOST_TEST(contains(second.err, "epoch 2/2"));
  BOOST_TEST(contains(second.err, "validation NMSE"));
  // `linksim validate` recognises training scenarios.
  const Result valid = run_cli({"validate", "tiny.ini"}, dir.path());
  BOOST_TEST(valid.status == 0, valid.err);
  BOOST_TEST(contains(valid.out, "OK, training scenario: csinet at CR 64"), valid.out);
  const Result invalid = run_cli({"validate", "tiny.ini", "--set", "train.batch=0"}, dir.path());
  BOOST_TEST(invalid.status == 2);
  BOOST_TEST(contains(invalid.err, "train.batch"));
  // Third call: already finished.
  const Result third = run_cli({"train", "tiny.ini"}, dir.path());
  BOOST_TEST(third.status == 0);
  BOOST_TEST(contains(third.err, "already trained"));
  // Another configuration on the same model path: refused unless --force.
  const Result other = run_cli({"train", "tiny.ini", "--set", "run.seed=6"}, dir.path());
  BOOST_TEST(other.status == 2);
  BOOST_TEST(contains(other.err, "different training configuration"), other.err);

  const Result info = run_cli({"model-info", "out/tiny.lsnn"}, dir.path());
  BOOST_TEST(info.status == 0, info.err);
  const auto j = nlohmann::json::parse(info.out);
  BOOST_TEST(j.at("architecture") == "csinet");
  BOOST_TEST(j.at("cr") == 64);
  BOOST_TEST(j.at("code_values") == 32);
  BOOST_TEST(j.at("feedback_values") == 33);
  BOOST_TEST(j.at("parameters") == 136556);
  BOOST_TEST(j.at("normalisation").at("kind") == "per_sample_max_abs");
  const auto& t = j.at("training");
  BOOST_TEST(t.at("status") == "finished");
  BOOST_TEST(t.at("epochs_run") == 2);
  BOOST_TEST(t.at("seed") == 5);
  BOOST_TEST(t.at("recipe").at("data").at("source") == "generated");
  BOOST_TEST(t.at("recipe").at("data").at("seed") == 77);
  BOOST_TEST(t.at("recipe").at("config").at("train.schedule") == "cosine");
  BOOST_TEST(t.at("hyper_parameters").at("batch") == 32);
  BOOST_TEST(t.at("validation").at("nmse_db").is_number());
  BOOST_TEST(t.at("validation").at("rho").is_number());
  BOOST_TEST(t.at("test").at("samples") == 16);
  const std::string csv = qa::read_text(dir / "out" / "tiny.train.csv");
  BOOST_TEST(std::count(csv.begin(), csv.end(), '\n') == 3);

  // model.init: a new training that starts from the finished model's weights. With a learning
  // rate of 1e-9 one epoch leaves them as they are, so the validation NMSE is the same; a model
  // of another CR is refused before anything runs.
  std::string warm = kTiny;
  warm.replace(warm.find("out/tiny.lsnn"), 13, "out/warm.lsnn");
  warm.replace(warm.find("epochs = 2"), 10, "epochs = 1\nlr = 1e-9");
  warm.replace(warm.find("[data]"), 6, "init = out/tiny.lsnn\n[data]");
  qa::write_text(dir / "warm.ini", warm);
  const Result warmed = run_cli({"train", "warm.ini", "--no-plot"}, dir.path());
  BOOST_TEST(warmed.status == 0, warmed.err);
  BOOST_TEST(contains(warmed.err, "starting from the weights of out/tiny.lsnn"), warmed.err);
  const Result warm_info = run_cli({"model-info", "out/warm.lsnn"}, dir.path());
  const auto w = nlohmann::json::parse(warm_info.out);
  // (Training mode still moves BatchNorm's running statistics a little: 0.01 dB absolute.)
  BOOST_TEST(std::abs(w.at("training").at("validation").at("nmse_db").get<double>() -
                      t.at("validation").at("nmse_db").get<double>()) < 0.01);
  const Result wrong_cr = run_cli(
      {"train", "warm.ini", "--set", "model.cr=32", "--set", "run.model=out/w32.lsnn"}, dir.path());
  BOOST_TEST(wrong_cr.status == 2);
  BOOST_TEST(contains(wrong_cr.err, "key 'model.init'"), wrong_cr.err);
  BOOST_TEST(contains(wrong_cr.err, "csinet at CR 64"), wrong_cr.err);

  // linksim compress: prune, fine-tune with the mask kept, int8; the compact file loads, is
  // smaller, and model-info shows how it was made and its storage per layer.
  qa::write_text(dir / "qp.ini",
                 "[compress]\nmodel = out/tiny.lsnn\nsteps = prune, finetune, int8\n"
                 "[prune]\nsparsity = 0.6\n"
                 "[data]\nchannel = cost2100_indoor\nseed = 77\ntrain = 96\nval = 24\ntest = 16\n"
                 "[train]\nbatch = 32\nepochs = 1\n[run]\nthreads = 1\nmodel = out/qp.lsnnc\n");
  const Result qp = run_cli({"compress", "qp.ini", "--no-plot"}, dir.path());
  BOOST_TEST_REQUIRE(qp.status == 0, qp.err);
  BOOST_TEST(contains(qp.err, "epoch 1/1"), qp.err);
  BOOST_TEST(contains(qp.err, "sparse int8-rows"), qp.err);
  BOOST_TEST(fs::file_size(dir / "out" / "qp.lsnnc") <
             fs::file_size(dir / "out" / "tiny.lsnn") / 4);
  const Result qp_info = run_cli({"model-info", "out/qp.lsnnc"}, dir.path());
  BOOST_TEST_REQUIRE(qp_info.status == 0, qp_info.err);
  const auto q = nlohmann::json::parse(qp_info.out);
  BOOST_TEST(q.at("compression").at("steps").size() == 3U);
  BOOST_TEST(q.at("compression").at("sparsity").get<double>() == 0.6,
             boost::test_tools::tolerance(1e-4));
  BOOST_TEST(q.at("file_bytes") == fs::file_size(dir / "out" / "qp.lsnnc"));
  std::size_t sparse_layers = 0;
  for (const auto& l : q.at("storage").at("layers")) {
    sparse_layers += l.at("encoding") == "sparse int8-rows" ? 1 : 0;
  }
  BOOST_TEST(sparse_layers == 2U);
  // Gradual pruning then a second fine-tuning with a teacher: each step has its own resumable
  // fine-tuning files, the data is made once, and the sparsity reached is the requested one.
  const Result gradual =
      run_cli({"compress", "qp.ini", "--no-plot", "--set", "compress.steps=gradual, finetune, int8",
               "--set", "prune.gradual_epochs=1", "--set", "train.epochs=2", "--set",
               "distill.teacher=out/tiny.lsnn", "--set", "run.model=out/g.lsnnc"},
              dir.path());
  BOOST_TEST_REQUIRE(gradual.status == 0, gradual.err);
  BOOST_TEST(fs::exists(dir / "out" / "g.finetune.lsnn"));
  BOOST_TEST(fs::exists(dir / "out" / "g.finetune2.lsnn"));
  BOOST_TEST(contains(gradual.err, "distilling from out/tiny.lsnn"), gradual.err);
  std::size_t generated = 0;
  for (auto at = gradual.err.find("generating"); at != std::string::npos;
       at = gradual.err.find("generating", at + 1)) {
    ++generated;
  }
  BOOST_TEST(generated == 1U, gradual.err);
  const auto g = nlohmann::json::parse(run_cli({"model-info", "out/g.lsnnc"}, dir.path()).out);
  BOOST_TEST(g.at("compression").at("steps").size() == 3U);
  BOOST_TEST(g.at("compression").at("sparsity").get<double>() >= 0.6);
  BOOST_TEST(g.at("compression").at("sparsity").get<double>() < 0.62);
  const Result bad_teacher =
      run_cli({"compress", "qp.ini", "--set", "distill.teacher=out/none.lsnn"}, dir.path());
  BOOST_TEST(bad_teacher.status == 2);
  BOOST_TEST(contains(bad_teacher.err, "distill.teacher"), bad_teacher.err);
  const Result bad_step =
      run_cli({"compress", "qp.ini", "--set", "compress.steps=prune, shrink"}, dir.path());
  BOOST_TEST(bad_step.status == 2);
  BOOST_TEST(contains(bad_step.err, "'shrink' is not a step"), bad_step.err);
  const Result bad_order =
      run_cli({"compress", "qp.ini", "--set", "compress.steps=int8, fp16"}, dir.path());
  BOOST_TEST(bad_order.status == 2);
  BOOST_TEST(contains(bad_order.err, "qp.ini"), bad_order.err);

  // Damaged model and checkpoint files: exit 2 naming the file.
  std::string bytes = qa::read_text(dir / "out" / "tiny.lsnn");
  qa::write_text(dir / "cut.lsnn", bytes.substr(0, bytes.size() / 2));
  const Result cut = run_cli({"model-info", "cut.lsnn"}, dir.path());
  BOOST_TEST(cut.status == 2);
  BOOST_TEST(contains(cut.err, "cut.lsnn"));
  BOOST_TEST(contains(cut.err, "truncated"));
  std::string ck = qa::read_text(dir / "out" / "tiny.ckpt");
  ck[ck.size() - 10] ^= 4;
  qa::write_text(dir / "out" / "tiny.ckpt", ck);
  const Result bad_ck = run_cli({"train", "tiny.ini"}, dir.path());
  BOOST_TEST(bad_ck.status == 2);
  BOOST_TEST(contains(bad_ck.err, "checksum mismatch"), bad_ck.err);
  BOOST_TEST(contains(bad_ck.err, "--force"));
}

BOOST_AUTO_TEST_CASE(bench_inference_compares_every_backend_with_torch) {
  const qa::TempDir dir("nn_cli_bench");
  const std::string model = std::string(LINKSIM_MODELS_DIR) + "/csinet_indoor_cr64.lsnn";
  const Result r = run_cli({"bench", "inference", "--model", model, "--seconds", "0.05", "--prune",
                            "0.5", "--threads", "1"},
                           dir.path());
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const auto j = nlohmann::json::parse(r.out);
  BOOST_TEST(j.at("cr").get<int>() == 64);
  BOOST_TEST(j.at("prune_sparsity").get<double>() == 0.5);
  std::set<std::string> names;
  for (const auto& b : j.at("backends")) {
    names.insert(b.at("backend").get<std::string>());
    if (b.contains("error")) continue;
    BOOST_TEST(b.at("parity").at("within_tolerance").get<bool>(), b.dump());
    BOOST_TEST(b.at("latency_us").at("p50").get<double>() > 0.0);
  }
  BOOST_TEST(names.count("torch") == 1U);
  BOOST_TEST(names.count("int8") == 1U);
  BOOST_TEST(names.count("sparse") == 1U);
}

BOOST_AUTO_TEST_CASE(classifier_train_distil_and_model_info) {
  // A modulation classifier from a scenario (train), distilled into a smaller one (compress),
  // both described by model-info; bad classifier keys and teachers exit 2 naming the key.
  const qa::TempDir dir("nn_cli_classifier");
  const std::string data =
      "[data]\nclasses = bpsk, qpsk, qam16\nsymbols = 64\nsnr_min_db = 15\nsnr_max_db = 25\n"
      "phase = zero\nseed = 9\ntrain = 3000\nval = 300\ntest = 300\n"
      "[train]\nlr = 0.003\nepochs = 10\nbatch = 100\n";
  qa::write_text(dir / "teacher.ini", "[model]\narch = modclass\nwidths = 32, 32\nhead = 32\n" +
                                          data + "[run]\nthreads = 1\nmodel = out/teacher.lsnn\n");
  qa::write_text(
      dir / "distill.ini",
      "[compress]\nmodel = out/teacher.lsnn\nsteps = distill\n"
      "[model]\narch = modclass\nwidths = 16, 16\nhead = 16\n[distill]\ntemperature = 3\n"
      "alpha = 0.8\n" +
          data + "[run]\nthreads = 1\nmodel = out/student.lsnn\n");
  const Result t = run_cli({"train", "teacher.ini"}, dir.path());
  BOOST_TEST_REQUIRE(t.status == 0, "train: " << t.err);
  BOOST_TEST(contains(t.out, "out/teacher.lsnn"));
  const Result d = run_cli({"compress", "distill.ini"}, dir.path());
  BOOST_TEST_REQUIRE(d.status == 0, "compress: " << d.err);
  const Result info = run_cli({"model-info", "out/student.lsnn"}, dir.path());
  BOOST_TEST_REQUIRE(info.status == 0, info.err);
  const auto j = nlohmann::json::parse(info.out);
  BOOST_TEST(j.at("task").get<std::string>() == "modulation_classifier");
  // (2 + 1) 16 + (16 + 1) 16 + (16 + 1) 16 + (16 + 1) 3
  BOOST_TEST(j.at("parameters").get<std::size_t>() == 48U + 272U + 272U + 51U);
  BOOST_TEST(j.at("file_bytes").get<std::uintmax_t>() == fs::file_size(dir / "out/student.lsnn"));
  const auto& rec = j.at("training");
  BOOST_TEST(rec.at("distillation").at("teacher").get<std::string>() == "out/teacher.lsnn");
  BOOST_TEST(rec.at("distillation").at("alpha").get<double>() == 0.8);
  // High SNR, no carrier phase: both tell the three constellations apart.
  BOOST_TEST(rec.at("distillation").at("teacher_test_accuracy").get<double>() > 0.9);
  BOOST_TEST(rec.at("test_accuracy").get<double>() > 0.7);   // chance: 1/3
  BOOST_TEST(rec.at("test_accuracy_by_esn0").size() == 2U);  // bins [15, 20) and [20, 25)

  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"train", "teacher.ini", "--set", "data.classes=bpsk,8psk"}, "unknown modulation '8psk'"},
      {{"train", "teacher.ini", "--set", "model.widths=32,x"}, "model.widths"},
      {{"train", "teacher.ini", "--set", "data.classes=qpsk,bpsk,qpsk"}, "listed twice"},
      {{"train", "teacher.ini", "--set", "data.train=10000000", "--set", "data.symbols=4096"},
       "GiB"},
      {{"train", "teacher.ini", "--set", "data.snr_min_db=30"}, "data.snr_min_db"},
      {{"train", "teacher.ini", "--set", "distill.teacher=teacher.ini"}, "distill.teacher"},
      {{"compress", "distill.ini", "--set", "compress.steps=prune"}, "compress.steps"},
      {{"compress", "distill.ini", "--set", "data.classes=bpsk,qpsk"}, "other classes"},
      {{"validate", "distill.ini", "--set", "compress.model=nowhere.lsnn"}, "compress.model"},
  };
  for (const auto& c : bad) expect_bad_input(run_cli(c.first, dir.path()), c.first, c.second);
  const Result v = run_cli({"validate", "distill.ini"}, dir.path());
  BOOST_TEST(v.status == 0, v.err);
  BOOST_TEST(contains(v.out, "OK, modulation classifier distillation"));
}
