// qa_backends: the NN inference backends (nn_compress/backends.hpp) initialise and compute a
// dense layer correctly (each probe compares y = W x + b with the exact result).
#define BOOST_TEST_MODULE qa_backends
#include <boost/test/unit_test.hpp>

#include "nn_compress/backends.hpp"

using namespace linksim;

BOOST_AUTO_TEST_CASE(torch_probe) {
  const BackendStatus s = probe_torch(1);
  BOOST_TEST(s.ok, "torch: " << s.detail);
  BOOST_TEST(s.name == "torch");
  BOOST_TEST((s.backend == Backend::Torch));
  BOOST_TEST(!s.detail.empty());
}

BOOST_AUTO_TEST_CASE(torch_probe_multithreaded) {
  const BackendStatus s = probe_torch(2);
  BOOST_TEST(s.ok, "torch (2 threads): " << s.detail);
}

BOOST_AUTO_TEST_CASE(xnnpack_probe) {
  const BackendStatus s = probe_xnnpack();
  BOOST_TEST(s.ok, "xnnpack: " << s.detail);
  BOOST_TEST(s.name == "xnnpack");
  BOOST_TEST((s.backend == Backend::Xnnpack));
  // A second probe (re-initialisation) works too.
  BOOST_TEST(probe_xnnpack().ok);
}
