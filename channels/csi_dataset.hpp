// CSI datasets on disk.
//
// Our HDF5 layout (written by `linksim dataset`):
//   dataset "H_ad": float32 [N, 2, rows, Nt]  (real, imaginary; delay rows, antenna columns;
//                   before any normalisation)
//   dataset "H_sf": float32 [N, 2, Nc, Nt]    (only with --full)
//   attributes on the root group: every generator setting, as strings.
// The public CsiNet .mat files are read too: variable "HT", [N, 2048] (2 x 32 x 32, real part
// first, row-major, each plane [antenna, delay] -- CsiNet's rho code FFTs the last axis --,
// CsiNet-normalised to [0, 1] around 0.5), MAT v5 through matio or v7.3 through HDF5; samples
// come back transposed to our [delay, antenna] layout as H_ad = HT - 0.5 (the offset undone; the
// scale stays).
#pragma once

#include <armadillo>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "channels/cost2100.hpp"

namespace linksim {

struct CsiDataset {
  arma::cx_cube h_ad;  ///< [rows, Nt, N]: slice n is sample n
  arma::cx_cube h_sf;  ///< [Nc, Nt, N], or empty
  std::map<std::string, std::string> attributes;
};

/// A dataset file that cannot be used (missing dataset, wrong shape, NaN/Inf, not HDF5/MAT).
/// The message names the file and the problem; the CLI maps it to exit code 2.
class DatasetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Generates `samples` COST 2100 drops with CsiNet's geometry for the scenario (drop i from
/// stream derive_seed(seed, 0, i), on `threads` threads), with H_sf when `full`, and attributes
/// recording every setting.
CsiDataset generate_csi_dataset(Cost2100Scenario scenario, std::size_t samples, std::uint64_t seed,
                                unsigned threads, bool full);

void write_csi_hdf5(const std::filesystem::path& file, const CsiDataset& data);

/// Reads our HDF5 layout or a CsiNet .mat file (by content, not by extension).
CsiDataset read_csi_file(const std::filesystem::path& file);

}  // namespace linksim
