#include "channels/csi_dataset.hpp"

#include <sstream>

#include <hdf5.h>
#include <matio.h>

#include <array>
#include <fstream>
#include <vector>

namespace linksim {
namespace {

/// Closes an HDF5 handle on scope exit.
class H5Handle {
 public:
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Handle() {
    if (id_ >= 0) close_(id_);
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw DatasetError(file.string() + ": " + what);
}

/// Writes cube [rows, cols, N] as float32 [N, 2, rows, cols].
void write_cube(hid_t root, const char* name, const arma::cx_cube& c,
                const std::filesystem::path& file) {
  const std::array<hsize_t, 4> dims{c.n_slices, 2, c.n_rows, c.n_cols};
  std::vector<float> buf(c.n_slices * 2 * c.n_rows * c.n_cols);
  std::size_t i = 0;
  for (arma::uword n = 0; n < c.n_slices; ++n) {
    for (int part = 0; part < 2; ++part) {
      for (arma::uword r = 0; r < c.n_rows; ++r) {
        for (arma::uword col = 0; col < c.n_cols; ++col) {
          const auto v = c(r, col, n);
          buf[i++] = static_cast<float>(part == 0 ? v.real() : v.imag());
        }
      }
    }
  }
  const H5Handle space(H5Screate_simple(4, dims.data(), nullptr), H5Sclose);
  const H5Handle set(
      H5Dcreate2(root, name, H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose);
  if (!set.ok() ||
      H5Dwrite(set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
    fail(file, std::string("cannot write dataset ") + name);
  }
}

/// Reads float32/64 [N, 2, rows, cols] into a cube [rows, cols, N].
arma::cx_cube read_cube(hid_t root, const char* name, const std::filesystem::path& file) {
  const H5Handle set(H5Dopen2(root, name, H5P_DEFAULT), H5Dclose);
  if (!set.ok()) fail(file, std::string("no dataset \"") + name + "\"");
  const H5Handle space(H5Dget_space(set.get()), H5Sclose);
  std::array<hsize_t, 4> dims{};
  if (H5Sget_simple_extent_ndims(space.get()) != 4 ||
      H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) != 4 || dims[1] != 2 ||
      dims[0] == 0 || dims[2] == 0 || dims[3] == 0) {
    fail(file, std::string("dataset \"") + name + "\" must have shape [N, 2, rows, Nt]");
  }
  std::vector<float> buf(dims[0] * dims[1] * dims[2] * dims[3]);
  if (H5Dread(set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
    fail(file, std::string("cannot read dataset \"") + name + "\" as numbers");
  }
  arma::cx_cube c(dims[2], dims[3], dims[0]);
  const std::size_t plane = dims[2] * dims[3];
  for (arma::uword n = 0; n < c.n_slices; ++n) {
    const float* re = buf.data() + n * 2 * plane;
    const float* im = re + plane;
    for (arma::uword r = 0; r < c.n_rows; ++r) {
      for (arma::uword col = 0; col < c.n_cols; ++col) {
        const std::size_t k = r * dims[3] + col;
        c(r, col, n) = {re[k], im[k]};
      }
    }
  }
  if (!c.is_finite()) fail(file, std::string("dataset \"") + name + "\" holds NaN or Inf");
  return c;
}

/// CsiNet's HT [N, 2048] (values in [0, 1]) as cubes [32, 32, N], offset 0.5 removed.
arma::cx_cube from_ht(const std::vector<double>& ht, std::size_t n, bool column_major,
                      const std::filesystem::path& file) {
  constexpr std::size_t kLen = 2048, kSide = 32;
  arma::cx_cube c(kSide, kSide, n);
  for (std::size_t s = 0; s < n; ++s) {
    for (std::size_t k = 0; k < kLen / 2; ++k) {
      // Element (s, j) of an [N, 2048] matrix: row-major s * 2048 + j, column-major j * N + s.
      const auto at = [&](std::size_t j) {
        return column_major ? ht[j * n + s] : ht[s * kLen + j];
      };
      // CsiNet planes are [antenna, delay] (its rho code FFTs the last axis): transpose.
      c(k % kSide, k / kSide, s) = {at(k) - 0.5, at(k + kLen / 2) - 0.5};
    }
  }
  if (!c.is_finite()) fail(file, "variable \"HT\" holds NaN or Inf");
  return c;
}

bool is_hdf5(const std::filesystem::path& file) {
  return H5Fis_hdf5(file.c_str()) > 0;
}

CsiDataset read_mat_v5(const std::filesystem::path& file) {
  mat_t* mat = Mat_Open(file.c_str(), MAT_ACC_RDONLY);
  if (mat == nullptr) fail(file, "neither an HDF5 file nor a MAT file");
  matvar_t* var = Mat_VarRead(mat, "HT");
  if (var == nullptr) {
    Mat_Close(mat);
    fail(file, "no variable \"HT\" (CsiNet .mat files hold HT, [N, 2048])");
  }
  const bool ok = var->rank == 2 && var->dims[1] == 2048 && var->class_type == MAT_C_DOUBLE &&
                  var->isComplex == 0;
  CsiDataset d;
  if (ok) {
    const std::size_t n = var->dims[0];
    const auto* p = static_cast<const double*>(var->data);
    d.h_ad = from_ht(std::vector<double>(p, p + n * 2048), n, /*column_major=*/true, file);
  }
  Mat_VarFree(var);
  Mat_Close(mat);
  if (!ok) fail(file, "variable \"HT\" must be a real double matrix [N, 2048]");
  d.attributes["source"] = "CsiNet .mat (v5)";
  return d;
}

}  // namespace

CsiDataset generate_csi_dataset(Cost2100Scenario scenario, std::size_t samples, std::uint64_t seed,
                                unsigned threads, bool full) {
  const Cost2100Params& params = cost2100_params(scenario);
  const CsiGeometry geometry = csinet_geometry(scenario);
  const auto drops = generate_drops(params, geometry, samples, seed, threads, full);
  CsiDataset data;
  data.h_ad.set_size(geometry.delay_rows, geometry.antennas, drops.size());
  if (full) data.h_sf.set_size(geometry.subcarriers, geometry.antennas, drops.size());
  for (std::size_t i = 0; i < drops.size(); ++i) {
    data.h_ad.slice(i) = drops[i].h_ad;
    if (full) data.h_sf.slice(i) = drops[i].h_sf;
  }
  const auto number = [](double v) {
    std::ostringstream o;
    o.precision(12);
    o << v;
    return o.str();
  };
  data.attributes = {
      {"channel", std::string(channel_name(scenario))},
      {"parameter_set", std::string(params.name)},
      {"carrier_hz", number(params.carrier_hz)},
      {"bandwidth_hz", number(geometry.bandwidth_hz)},
      {"subcarriers", std::to_string(geometry.subcarriers)},
      {"antennas", std::to_string(geometry.antennas)},
      {"delay_rows", std::to_string(geometry.delay_rows)},
      {"area_side_m", number(geometry.area_side_m)},
      {"samples", std::to_string(samples)},
      {"seed", std::to_string(seed)},
      {"transform", "H_ad = F_d H_sf F_a^H (sim/csi_transform.hpp), first delay_rows rows"},
      {"generator", "linksim COST 2100-style (channels/cost2100.hpp)"}};
  return data;
}

void write_csi_hdf5(const std::filesystem::path& file, const CsiDataset& data) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const H5Handle f(H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!f.ok()) fail(file, "cannot create HDF5 file");
  write_cube(f.get(), "H_ad", data.h_ad, file);
  if (!data.h_sf.is_empty()) write_cube(f.get(), "H_sf", data.h_sf, file);
  for (const auto& [key, value] : data.attributes) {
    const H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), value.empty() ? 1 : value.size());
    const H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    const H5Handle attr(
        H5Acreate2(f.get(), key.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
        H5Aclose);
    const std::string text = value.empty() ? std::string(1, '\0') : value;
    if (!attr.ok() || H5Awrite(attr.get(), type.get(), text.data()) < 0) {
      fail(file, "cannot write attribute " + key);
    }
  }
}

CsiDataset read_csi_file(const std::filesystem::path& file) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  if (!std::filesystem::is_regular_file(file)) fail(file, "no such file");
  if (!is_hdf5(file)) return read_mat_v5(file);
  const H5Handle f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!f.ok()) fail(file, "cannot open HDF5 file");
  CsiDataset d;
  if (H5Lexists(f.get(), "H_ad", H5P_DEFAULT) > 0) {
    d.h_ad = read_cube(f.get(), "H_ad", file);
    if (H5Lexists(f.get(), "H_sf", H5P_DEFAULT) > 0) {
      d.h_sf = read_cube(f.get(), "H_sf", file);
      if (d.h_sf.n_slices != d.h_ad.n_slices || d.h_sf.n_cols != d.h_ad.n_cols) {
        fail(file, "H_sf and H_ad disagree in samples or antennas");
      }
    }
    const auto collect = [](hid_t loc, const char* name, const H5A_info_t*, void* out) -> herr_t {
      const H5Handle attr(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
      const H5Handle type(H5Aget_type(attr.get()), H5Tclose);
      if (H5Tget_class(type.get()) != H5T_STRING) return 0;
      std::string value(H5Tget_size(type.get()), '\0');
      if (H5Aread(attr.get(), type.get(), value.data()) >= 0) {
        value.erase(value.find_last_not_of('\0') + 1);
        (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
      }
      return 0;
    };
    H5Aiterate2(f.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &d.attributes);
    return d;
  }
  // MAT v7.3 is HDF5: MATLAB stores HT [N, 2048] column-major, i.e. as an HDF5 [2048, N] array
  // whose element (j, s) is HT(s, j).
  if (H5Lexists(f.get(), "HT", H5P_DEFAULT) <= 0) {
    fail(file, "no dataset \"H_ad\" (linksim) or \"HT\" (CsiNet .mat v7.3)");
  }
  const H5Handle set(H5Dopen2(f.get(), "HT", H5P_DEFAULT), H5Dclose);
  const H5Handle space(H5Dget_space(set.get()), H5Sclose);
  std::array<hsize_t, 2> dims{};
  if (H5Sget_simple_extent_ndims(space.get()) != 2 ||
      H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) != 2 || dims[0] != 2048 ||
      dims[1] == 0) {
    fail(file, "variable \"HT\" must be [N, 2048]");
  }
  std::vector<double> ht(dims[0] * dims[1]);
  if (H5Dread(set.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, ht.data()) < 0) {
    fail(file, "cannot read dataset \"HT\"");
  }
  d.h_ad = from_ht(ht, dims[1], /*column_major=*/true, file);
  d.attributes["source"] = "CsiNet .mat (v7.3)";
  return d;
}

}  // namespace linksim
