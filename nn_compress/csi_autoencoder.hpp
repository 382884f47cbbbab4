// CsiNet-family CSI feedback autoencoders (encoder at the UE, decoder at the BS), LibTorch behind
// a pimpl: this header does not include torch.
//
// Data. One sample is the truncated angular-delay CSI, 32 delay rows x 32 antennas, flattened as
// in blocks/cs.hpp `flatten_csi`: x[c * 1024 + r * 32 + k] is the real (c = 0) or imaginary
// (c = 1) part of H_ad(r, k), r = delay row, k = antenna. A batch is a matrix [2048 x B], one
// sample per column, at the user's own (raw) scale.
//
// Normalisation (recorded in every model file as "per_sample_max_abs"). Real data comes at any
// scale (path loss alone spans orders of magnitude), so each sample is scaled by its own
//   s = max_i |x_i|      (the largest real or imaginary part; s = 0 for an all-zero sample)
// to the network input u = 0.5 + x / (2 s), which lies in [0, 1] with the zero channel at 0.5
// (CsiNet's [0, 1]-with-offset-0.5 convention; the sigmoid output can reach every such value).
// The scale travels with the code as one extra fed-back float32, so the feedback is
//   codes [M + 1 x B]: rows 0 .. M-1 the network's code (float32 values), row M the scale s,
// and the decoder returns x_hat = 2 s (u_hat - 0.5). The whole chain is scale-equivariant:
// x -> c x gives x_hat -> c x_hat (up to float rounding), hence the same NMSE at any scale.
// The max (not the L2 norm) is used because it maps every sample onto the full [0, 1] range the
// sigmoid covers; with the L2 norm typical entries would sit within 1e-2 of 0.5.
//
// Training loss (nn_compress/csi_trainer.hpp) is the MSE between u and u_hat, as in CsiNet.
//
// Threads. encode/decode are const and may run on several threads at once; the intra-op thread
// count of LibTorch is process-wide: set it with set_torch_threads.
#pragma once

#include <armadillo>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "nn_compress/model_file.hpp"

namespace linksim {

namespace detail {
class CsiNetwork;
}

/// Architectures (scenario names in brackets).
enum class CsiArch {
  CsiNet,        ///< "csinet": Wen, Shih, Jin, IEEE WCL 2018 (REFERENCE.md section 1)
  CrNet,         ///< "crnet": Lu, Wang, Song, ICC 2020 (multi-resolution CRBlocks)
  CsiNetPlus,    ///< "csinetplus": Guo, Wen, Jin, Li, IEEE TWC 2020 (CsiNet+, seed 002)
  ConvCsiNet,    ///< "convcsinet": the FC layers replaced by conv + average-pool / upsample stacks
  ConvSquCsiNet  ///< "convsqucsinet": ConvCsiNet with fire modules (squeeze 1x1, expand 1x1+3x3)
};
inline constexpr CsiArch kCsiArchs[] = {CsiArch::CsiNet, CsiArch::CrNet, CsiArch::CsiNetPlus,
                                        CsiArch::ConvCsiNet, CsiArch::ConvSquCsiNet};
std::string_view arch_name(CsiArch arch);
std::optional<CsiArch> csi_arch_named(std::string_view name);

inline constexpr std::size_t kCsiRows = 32;                             ///< delay rows
inline constexpr std::size_t kCsiAntennas = 32;                         ///< Nt
inline constexpr std::size_t kCsiValues = 2 * kCsiRows * kCsiAntennas;  ///< 2048 reals

/// Code values M of an architecture at compression ratio 1/cr (2048 / cr). Throws
/// std::invalid_argument when the architecture cannot realise that ratio: CsiNet and CRNet take
/// any cr dividing 2048; the convolutional pair a power of two from 4 to 1024.
std::size_t csi_code_values(CsiArch arch, std::size_t cr);

/// The network input of a raw batch (see the file comment): u = 0.5 + x / (2 s) per column;
/// `scales` receives s per column (rounded to float32, as fed back). x [2048 x B].
arma::fmat normalise_csi(const arma::fmat& x, arma::frowvec& scales);

/// Sets LibTorch's intra-op thread count (process-wide; 0 = all cores).
void set_torch_threads(unsigned threads);

class CsiAutoencoder {
 public:
  /// A freshly initialised network (Glorot-uniform weights, zero biases, as Keras), reproducible
  /// for `seed` (seeds LibTorch's global generator). Throws std::invalid_argument for a bad cr.
  CsiAutoencoder(CsiArch arch, std::size_t cr, std::uint64_t seed);
  CsiAutoencoder(CsiAutoencoder&&) noexcept;
  CsiAutoencoder& operator=(CsiAutoencoder&&) noexcept;
  ~CsiAutoencoder();

  CsiArch arch() const;
  std::size_t cr() const;
  std::size_t code_values() const;                                   ///< M
  std::size_t feedback_values() const { return code_values() + 1; }  ///< M + 1 (with the scale)
  /// Trainable parameters (weights, biases, BatchNorm gamma/beta; not the BN running statistics).
  std::size_t parameter_count() const;

  /// UE side: x [2048 x B] raw scale -> codes [M + 1 x B] (last row: the scale s).
  /// Throws std::invalid_argument on a wrong row count or a non-finite value.
  arma::mat encode(const arma::mat& x) const;
  /// BS side: codes [M + 1 x B] -> x_hat [2048 x B] at the scale of the encoded x.
  arma::mat decode(const arma::mat& codes) const;
  /// decode(encode(x)).
  arma::mat reconstruct(const arma::mat& x) const { return decode(encode(x)); }

  /// The metadata JSON written into model files: architecture, cr, shapes, normalisation,
  /// hyper-parameters, parameter count, and the training record (see set_training_record).
  std::string metadata_json() const;
  /// A JSON object describing how the model was trained (stored under "training").
  /// Throws std::invalid_argument if it is not a JSON object.
  void set_training_record(const std::string& json_object);
  std::string training_record() const;

  /// A JSON object describing how the weights were compressed (stored under "compression";
  /// written by nn_compress/compress_pipeline.hpp). Throws std::invalid_argument if it is not a
  /// JSON object. compression_record() is "" for an uncompressed model.
  void set_compression_record(const std::string& json_object);
  std::string compression_record() const;

  /// Writes the model file (nn_compress/model_file.hpp, kind model) atomically.
  void save(const std::filesystem::path& file) const;
  /// Reads a model file (.lsnn, model_file.hpp) or a compact model (.lsnnc, compact_model.hpp;
  /// recognised by its magic, the weights decoded to float32); throws ModelFileError for
  /// anything unusable (the message says why).
  static CsiAutoencoder load(const std::filesystem::path& file);

  /// A model of `like`'s architecture and CR, with its training and compression records,
  /// holding `arrays` (as state() gives them). Throws ModelFileError on a name or shape mismatch.
  static CsiAutoencoder with_state(const CsiAutoencoder& like,
                                   const std::vector<NamedArray>& arrays);

  /// Every parameter and BatchNorm buffer as named arrays (checkpoints and tests).
  std::vector<NamedArray> state() const;
  /// Loads arrays written by state(). Throws ModelFileError naming `source` when a name is
  /// missing or unexpected or a shape differs.
  void load_state(const std::vector<NamedArray>& arrays, const std::string& source);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  explicit CsiAutoencoder(std::unique_ptr<Impl> impl);
  friend detail::CsiNetwork& network_of(CsiAutoencoder& model);
};

}  // namespace linksim
