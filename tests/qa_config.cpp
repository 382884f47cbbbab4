// qa_config: scenario parsing, validation and sweep expansion (sim/config.hpp) with the real
// schema of the registry (cli/registry.hpp).
#define BOOST_TEST_MODULE qa_config
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "cli/registry.hpp"
#include "qa_common.hpp"
#include "sim/config.hpp"

using namespace linksim;

namespace {

Scenario validate_text(const std::string& text, const std::string& source = "test.ini") {
  return validate(parse_config_text(text, source), scenario_schema());
}

/// The message of the ConfigError that validating `text` throws ("" if none is thrown).
std::string error_of(const std::string& text, const std::string& source = "bad.ini") {
  try {
    validate_text(text, source);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

const std::string kMinimal = "[sweep]\nsnr_db = 0\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(number_lists)

BOOST_AUTO_TEST_CASE(ranges_and_lists) {
  BOOST_TEST(parse_number_list("0:2:10") == (std::vector<double>{0, 2, 4, 6, 8, 10}));
  BOOST_TEST(parse_number_list("1,2,3") == (std::vector<double>{1, 2, 3}));
  BOOST_TEST(parse_number_list(" 1 , 2.5 ,3 ") == (std::vector<double>{1, 2.5, 3}));
  BOOST_TEST(parse_number_list("-3:1:0") == (std::vector<double>{-3, -2, -1, 0}));
  BOOST_TEST(parse_number_list("-3:-1") == (std::vector<double>{-3, -2, -1}));
  BOOST_TEST(parse_number_list("0:3") == (std::vector<double>{0, 1, 2, 3}));
  BOOST_TEST(parse_number_list("10:-2:5") == (std::vector<double>{10, 8, 6}));
  BOOST_TEST(parse_number_list("0 : 0.1 : 0.3") == (std::vector<double>{0, 0.1, 0.2, 0.3}));
  BOOST_TEST(parse_number_list("0:0.3:0.9") == (std::vector<double>{0, 0.3, 0.6, 0.9}));
  BOOST_TEST(parse_number_list("7") == (std::vector<double>{7}));
  BOOST_TEST(parse_number_list("-4.5") == (std::vector<double>{-4.5}));
  BOOST_TEST(parse_number_list("1e8") == (std::vector<double>{1e8}));
  BOOST_TEST(parse_number_list("2:1:2.5") == (std::vector<double>{2}));  // last not on the grid
}

BOOST_AUTO_TEST_CASE(malformed) {
  for (const char* bad :
       {"", "  ", "abc", "1x", "1:", ":1", "1::2", "1:0", "0:0:5", "0:-1:3", "1:2:3:4", "1,,2",
        "1,a", "nan", "inf", "1e400", "0:1e-9:1", "0:2:10, 15", "0:100000"}) {
    BOOST_CHECK_THROW(parse_number_list(bad), std::invalid_argument);
  }
  BOOST_TEST(parse_number_list("1:100000").size() == 100000U);  // at most 100000 values
}

BOOST_AUTO_TEST_CASE(format_and_edit_distance) {
  BOOST_TEST(format_number(0.1) == "0.1");
  BOOST_TEST(format_number(1e8) == "100000000");
  BOOST_TEST(format_number(-2.5) == "-2.5");
  BOOST_TEST(format_number(0.1 + 0.2) == "0.3");
  BOOST_TEST(std::stod(format_number(1.0 / 3.0)) ==
             parse_number_list(format_number(1.0 / 3.0)).front());
  BOOST_TEST(edit_distance("kitten", "sitting") == 3U);
  BOOST_TEST(edit_distance("", "abc") == 3U);
  BOOST_TEST(edit_distance("mapper", "mapper") == 0U);
  BOOST_TEST(edit_distance("link.maper", "link.mapper") == 1U);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(parsing)

BOOST_AUTO_TEST_CASE(sections_comments_and_order) {
  const RawConfig raw = parse_config_text(
      "# a comment\n"
      "description = two words   # trailing comment\n"
      "\n"
      "[link]\n"
      "mapper = qpsk\n"
      "  frame_bits=2000\n"
      "[sweep]\n"
      "snr_db = 0:2:4\n",
      "s.ini");
  BOOST_TEST(raw.source == "s.ini");
  const std::vector<std::pair<std::string, std::string>> expect{{"description", "two words"},
                                                                {"link.mapper", "qpsk"},
                                                                {"link.frame_bits", "2000"},
                                                                {"sweep.snr_db", "0:2:4"}};
  BOOST_TEST((raw.entries == expect));
}

BOOST_AUTO_TEST_CASE(syntax_error_names_the_source) {
  try {
    parse_config_text("[link]\nthis line has no equals sign\n", "broken.ini");
    BOOST_ERROR("no ConfigError for a line without '='");
  } catch (const ConfigError& e) {
    BOOST_TEST(contains(e.what(), "broken.ini"), e.what());
    BOOST_TEST(contains(e.what(), "syntax"), e.what());
  }
}

BOOST_AUTO_TEST_CASE(missing_file_names_the_file) {
  const qa::TempDir dir("config");
  const auto missing = dir / "nope.ini";
  try {
    read_config_file(missing);
    BOOST_ERROR("no ConfigError for a missing file");
  } catch (const ConfigError& e) {
    BOOST_TEST(contains(e.what(), missing.string()), e.what());
  }
  qa::write_text(dir / "ok.ini", "[link]\nmapper = bpsk\n");
  const RawConfig raw = read_config_file(dir / "ok.ini");
  BOOST_TEST(raw.source == (dir / "ok.ini").string());
  BOOST_REQUIRE_EQUAL(raw.entries.size(), 1U);
}

BOOST_AUTO_TEST_CASE(overrides_replace_or_add) {
  RawConfig raw = parse_config_text("[link]\nmapper = bpsk\nframe_bits = 100\n", "o.ini");
  apply_override(raw, "link.mapper=qam16");
  apply_override(raw, " sweep.snr_db = 1,2 ");
  std::map<std::string, std::string> m(raw.entries.begin(), raw.entries.end());
  BOOST_TEST(raw.entries.size() == 3U);
  BOOST_TEST(m["link.mapper"] == "qam16");
  BOOST_TEST(m["link.frame_bits"] == "100");
  BOOST_TEST(m["sweep.snr_db"] == "1,2");
  BOOST_CHECK_THROW(apply_override(raw, "no_equals_sign"), ConfigError);
  BOOST_CHECK_THROW(apply_override(raw, "=5"), ConfigError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(defaults_fill_every_key) {
  const Scenario sc = validate_text(kMinimal);
  for (const auto& spec : scenario_schema()) {
    BOOST_REQUIRE(sc.values.count(spec.key) == 1U);
    if (!spec.required)
      BOOST_TEST(sc.values.at(spec.key) == std::vector<std::string>{spec.default_value});
  }
  BOOST_TEST(sc.axes.empty());
  BOOST_TEST(sc.values.at("sweep.snr_db") == std::vector<std::string>{"0"});
}

BOOST_AUTO_TEST_CASE(unknown_key_with_suggestion) {
  const std::string msg = error_of("[link]\nmaper = qpsk\n" + kMinimal, "typo.ini");
  BOOST_TEST(contains(msg, "typo.ini"), msg);
  BOOST_TEST(contains(msg, "unknown key 'link.maper'"), msg);
  BOOST_TEST(contains(msg, "did you mean 'link.mapper'"), msg);
  // An unknown section lists the valid ones.
  const std::string sec = error_of("[lnk]\nwhatever = 1\n" + kMinimal);
  BOOST_TEST(contains(sec, "lnk.whatever"), sec);
  BOOST_TEST(contains(sec, "[link]"), sec);
}

BOOST_AUTO_TEST_CASE(wrong_type) {
  const std::string msg = error_of("[link]\nframe_bits = abc\n" + kMinimal);
  BOOST_TEST(contains(msg, "link.frame_bits"), msg);
  BOOST_TEST(contains(msg, "abc"), msg);
  const std::string frac = error_of("[link]\nframe_bits = 10.5\n" + kMinimal);
  BOOST_TEST(contains(frac, "link.frame_bits"), frac);
  BOOST_TEST(contains(frac, "not an integer"), frac);
  const std::string real = error_of("[stop]\nmax_seconds = soon\n" + kMinimal);
  BOOST_TEST(contains(real, "stop.max_seconds"), real);
}

BOOST_AUTO_TEST_CASE(out_of_range) {
  const std::string msg = error_of("[stop]\nber_floor = 2\n" + kMinimal);
  BOOST_TEST(contains(msg, "stop.ber_floor"), msg);
  BOOST_TEST(contains(msg, "out of range"), msg);
  BOOST_TEST(contains(error_of("[link]\nframe_bits = 0\n" + kMinimal), "link.frame_bits"));
  BOOST_TEST(contains(error_of("[run]\nthreads = 5000\n" + kMinimal), "run.threads"));
  BOOST_TEST(contains(error_of("[stop]\nmax_bits = -1\n" + kMinimal), "stop.max_bits"));
  BOOST_TEST(contains(error_of("[sweep]\nsnr_db = 0:100:400\n"), "out of range"));
}

BOOST_AUTO_TEST_CASE(unknown_block_lists_valid_choices) {
  const std::string msg = error_of("[link]\nmapper = qam1024\n" + kMinimal);
  BOOST_TEST(contains(msg, "link.mapper"), msg);
  BOOST_TEST(contains(msg, "qam1024"), msg);
  for (const char* valid : {"bpsk", "qpsk", "qam16"}) BOOST_TEST(contains(msg, valid), msg);
  const std::string dem = error_of("[link]\ndemapper = soft\n" + kMinimal);
  for (const char* valid : {"hard", "exact", "maxlog", "itpp_hard", "itpp_logmap", "itpp_maxlog"}) {
    BOOST_TEST(contains(dem, valid), dem);
  }
}

BOOST_AUTO_TEST_CASE(duplicated_key) {
  const std::string msg = error_of("[link]\nmapper = bpsk\nmapper = qpsk\n" + kMinimal);
  BOOST_TEST(contains(msg, "link.mapper"), msg);
  BOOST_TEST(contains(msg, "more than once"), msg);
}

BOOST_AUTO_TEST_CASE(missing_snr_db) {
  const std::string msg = error_of("[link]\nmapper = bpsk\n", "nosnr.ini");
  BOOST_TEST(contains(msg, "nosnr.ini"), msg);
  BOOST_TEST(contains(msg, "sweep.snr_db"), msg);
  BOOST_TEST(contains(msg, "missing"), msg);
}

BOOST_AUTO_TEST_CASE(all_problems_at_once) {
  const std::string msg =
      error_of("[link]\nmapper = qam1024\nframe_bits = abc\n[stop]\nmax_bitz = 5\n");
  for (const char* key : {"link.mapper", "link.frame_bits", "stop.max_bitz", "sweep.snr_db"}) {
    BOOST_TEST(contains(msg, key), msg);
  }
}

BOOST_AUTO_TEST_CASE(integers_are_stored_exactly) {
  // Integer keys are exact up to 2^53 (seeds, counts); reals keep 12 significant digits.
  const Scenario sc = validate_text(
      "[run]\nseed = 9007199254740992\n[stop]\nmax_bits = 123456789012345\nmax_seconds = "
      "1.23456789012345\n" +
      kMinimal);
  const PointConfig p = expand(sc, "sweep.snr_db").front();
  BOOST_TEST(p.count("run.seed") == 9007199254740992ULL);
  BOOST_TEST(p.count("stop.max_bits") == 123456789012345ULL);
  BOOST_TEST(p.text("stop.max_bits") == "123456789012345");
  BOOST_TEST(p.text("stop.max_seconds") == "1.23456789012");
  BOOST_TEST(
      validate_text("[stop]\nmax_bits = 1e8\n" + kMinimal).values.at("stop.max_bits").front() ==
      "100000000");
  BOOST_TEST(contains(error_of("[run]\nseed = 9007199254740994\n" + kMinimal), "run.seed"));
}

BOOST_AUTO_TEST_CASE(accepted_values_read_back_unchanged) {
  // Every number validate() accepts for an integer key must be readable by PointConfig::count()
  // as that same number; integers are exact up to 2^53, and larger ones are rejected up front.
  for (const char* v : {"0", "1000", "1e12", "9007199254740992"}) {
    const Scenario sc = validate_text("[stop]\nmax_bits = " + std::string(v) + "\n" + kMinimal);
    const PointConfig p = expand(sc, "sweep.snr_db").front();
    std::uint64_t got = 0;
    BOOST_CHECK_NO_THROW(got = p.count("stop.max_bits"));
    BOOST_TEST(static_cast<double>(got) == std::stod(v),
               "stop.max_bits = " << v << " reads back as " << got);
  }
  for (const char* v : {"9007199254740994", "9e18", "1e19", "1e30"}) {
    try {
      validate_text("[stop]\nmax_bits = " + std::string(v) + "\n" + kMinimal);
      BOOST_ERROR("stop.max_bits = " << v << " was accepted");
    } catch (const ConfigError& e) {
      BOOST_TEST(std::string(e.what()).find("stop.max_bits") != std::string::npos, e.what());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sweeps)

BOOST_AUTO_TEST_CASE(expand_first_axis_outermost_snr_fastest) {
  const Scenario sc = validate_text(
      "[link]\nmapper = bpsk, qpsk\n"
      "[sweep]\nsnr_db = 0, 1, 2\n"
      "[rayleigh_block]\ncoherence_symbols = 10, 20\n");
  BOOST_TEST(sc.axes == (std::vector<std::string>{"link.mapper", "sweep.snr_db",
                                                  "rayleigh_block.coherence_symbols"}));
  const auto points = expand(sc, "sweep.snr_db");
  BOOST_REQUIRE_EQUAL(points.size(), 12U);
  std::size_t i = 0;
  for (const char* m : {"bpsk", "qpsk"}) {
    for (const char* f : {"10", "20"}) {
      for (const char* s : {"0", "1", "2"}) {
        BOOST_TEST(points[i].text("link.mapper") == m, "point " << i);
        BOOST_TEST(points[i].text("rayleigh_block.coherence_symbols") == f, "point " << i);
        BOOST_TEST(points[i].text("sweep.snr_db") == s, "point " << i);
        ++i;
      }
    }
  }
  // Non-swept keys keep their (default) value at every point.
  for (const auto& p : points) BOOST_TEST(p.text("link.channel") == "awgn");
}

BOOST_AUTO_TEST_CASE(a_set_key_moves_to_the_end_of_the_axes) {
  RawConfig raw = parse_config_text(
      "[link]\nmapper = bpsk, qpsk\ndemapper = hard, exact\n[sweep]\nsnr_db = 0, 1\n", "o.ini");
  BOOST_TEST(validate(raw, scenario_schema()).axes ==
             (std::vector<std::string>{"link.mapper", "link.demapper", "sweep.snr_db"}));
  apply_override(raw, "link.mapper=bpsk, qpsk");
  const Scenario sc = validate(raw, scenario_schema());
  BOOST_TEST(sc.axes == (std::vector<std::string>{"link.demapper", "sweep.snr_db", "link.mapper"}));
  const auto points = expand(sc, "sweep.snr_db");
  BOOST_REQUIRE_EQUAL(points.size(), 8U);
  // demapper outermost, then mapper, snr fastest.
  BOOST_TEST(points[0].text("link.demapper") == "hard");
  BOOST_TEST(points[1].text("sweep.snr_db") == "1");
  BOOST_TEST(points[2].text("link.mapper") == "qpsk");
  BOOST_TEST(points[4].text("link.demapper") == "exact");
}

BOOST_AUTO_TEST_CASE(settings_cannot_be_swept) {
  const std::vector<std::pair<std::string, std::string>> settings{
      {"[stop]\nmax_frames = 10, 20\n", "stop.max_frames"},
      {"[stop]\nmin_bit_errors = 1:3\n", "stop.min_bit_errors"},
      {"[run]\nseed = 1, 2\n", "run.seed"},
      {"[run]\nthreads = 1, 2\n", "run.threads"},
      {"[sweep]\nsnr = ebn0, esn0\n", "sweep.snr"},
      {"[link]\nsource = random_bits, random_bits\n", "link.source"}};
  for (const auto& [text, key] : settings) {
    const std::string msg = error_of(text + kMinimal);
    BOOST_TEST(contains(msg, key), text << ": " << msg);
    BOOST_TEST(contains(msg, "swept"), text << ": " << msg);
  }
  // Every block and numeric link key can be swept.
  BOOST_TEST(validate_text("[link]\nframe_bits = 100, 200\nequalizer = none, "
                           "coherent\n[rayleigh_block]\npilots = 1:3\n" +
                           kMinimal)
                 .axes.size() == 3U);
}

BOOST_AUTO_TEST_CASE(expand_without_axes_is_one_point) {
  const auto points = expand(validate_text(kMinimal), "sweep.snr_db");
  BOOST_REQUIRE_EQUAL(points.size(), 1U);
  BOOST_TEST(points[0].real("sweep.snr_db") == 0.0);
}

BOOST_AUTO_TEST_CASE(point_config_accessors) {
  PointConfig p(
      std::map<std::string, std::string>{{"a", "12"}, {"b", "-3"}, {"c", "2.5"}, {"d", "x"}});
  BOOST_TEST(p.integer("a") == 12);
  BOOST_TEST(p.count("a") == 12U);
  BOOST_TEST(p.real("c") == 2.5);
  BOOST_CHECK_THROW(p.count("b"), ConfigError);
  BOOST_CHECK_THROW(p.text("missing"), ConfigError);
  BOOST_CHECK_THROW(p.real("d"), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(schema)

BOOST_AUTO_TEST_CASE(schema_is_consistent) {
  std::set<std::string> keys;
  for (const auto& s : scenario_schema()) {
    BOOST_TEST(keys.insert(s.key).second, "duplicate key " << s.key);
    BOOST_TEST(!s.doc.empty(), s.key);
    if (s.required) {
      BOOST_TEST(s.default_value.empty(), s.key);
      continue;
    }
    if (s.kind == ParamKind::Choice) {
      BOOST_TEST(
          (std::find(s.choices.begin(), s.choices.end(), s.default_value) != s.choices.end()),
          s.key);
    }
    if (s.kind == ParamKind::Int || s.kind == ParamKind::Real) {
      const double v = std::stod(s.default_value);
      BOOST_TEST((v >= s.min && v <= s.max), s.key);
    }
  }
  for (const char* k : {"link.mapper", "link.channel", "link.demapper", "sweep.snr_db",
                        "stop.max_bits", "run.seed"}) {
    BOOST_TEST(keys.count(k) == 1U, k);
  }
}

BOOST_AUTO_TEST_CASE(catalog_matches_schema_choices) {
  for (Role role : {Role::Source, Role::Mapper, Role::Channel, Role::Equalizer, Role::Demapper}) {
    std::vector<std::string> names;
    for (const auto& b : block_catalog()) {
      if (b.role == role) names.push_back(b.name);
    }
    BOOST_TEST(!names.empty());
    const auto spec = std::find_if(scenario_schema().begin(), scenario_schema().end(),
                                   [&](const ParamSpec& s) { return s.key == role_key(role); });
    BOOST_REQUIRE(spec != scenario_schema().end());
    BOOST_TEST(spec->choices == names, role_key(role));
  }
}

BOOST_AUTO_TEST_CASE(every_block_combination_builds) {
  for (const char* m : {"bpsk", "qpsk", "qam16"}) {
    for (const char* c : {"awgn", "rayleigh_block"}) {
      for (const char* e : {"none", "coherent"}) {
        for (const char* d :
             {"hard", "exact", "maxlog", "itpp_hard", "itpp_logmap", "itpp_maxlog"}) {
          const auto link = build_link(qa::make_point({{"link.mapper", m},
                                                       {"link.channel", c},
                                                       {"link.equalizer", e},
                                                       {"link.demapper", d}}));
          BOOST_TEST(link->stage_blocks() == (std::vector<std::string>{"random_bits", m, c, e, d}));
          BOOST_TEST(link->stage_names() == (std::vector<std::string>{"source", "mapper", "channel",
                                                                      "equalizer", "demapper"}));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
