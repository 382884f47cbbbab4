#include "sim/types.hpp"

namespace linksim {

arma::cx_vec to_complex(const Signal& s) {
  if (const auto* cx = std::get_if<arma::cx_vec>(&s)) return *cx;
  const auto& re = std::get<arma::vec>(s);
  return arma::cx_vec(re, arma::zeros<arma::vec>(re.n_elem));
}

}  // namespace linksim
