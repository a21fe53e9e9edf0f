// A small test runner: TEST(name) registers a case; CHECK, CHECK_EQ and CHECK_STR record a failure with its
// file and line and let the case go on, so one run shows every broken expectation. The last line printed is
// "N passed, N failed" (counting cases), and the exit code is non-zero when any case failed.
#pragma once

#include <string>

namespace testing {

using TestFn = void (*)();

struct Registrar {
  Registrar(const char* name, TestFn fn);
};

void record_failure(const char* file, int line, const std::string& what);

std::string show(long long v);
std::string show(unsigned long long v);
std::string show(double v);
std::string show(bool v);
std::string show(const char* v);
std::string show(const std::string& v);
inline std::string show(int v) { return show(static_cast<long long>(v)); }
inline std::string show(long v) { return show(static_cast<long long>(v)); }
inline std::string show(unsigned v) { return show(static_cast<unsigned long long>(v)); }
inline std::string show(unsigned long v) { return show(static_cast<unsigned long long>(v)); }
inline std::string show(char* v) { return show(static_cast<const char*>(v)); }

template <typename A, typename B>
void check_eq(const A& a, const B& b, const char* ea, const char* eb, const char* file, int line) {
  if (a == b) return;
  record_failure(file, line, std::string(ea) + " == " + eb + " (got " + show(a) + ", expected " + show(b) + ")");
}

void check_str(const char* a, const char* b, const char* ea, const char* eb, const char* file, int line);
inline const char* c_str_of(const char* s) { return s; }
inline const char* c_str_of(const std::string& s) { return s.c_str(); }
template <typename A, typename B>
void check_str(const A& a, const B& b, const char* ea, const char* eb, const char* file, int line) {
  check_str(c_str_of(a), c_str_of(b), ea, eb, file, line);
}

}  // namespace testing

#define TEST(name)                                                             \
  static void test_##name();                                                   \
  static const ::testing::Registrar registrar_##name(#name, &test_##name);     \
  static void test_##name()

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) ::testing::record_failure(__FILE__, __LINE__, #cond);         \
  } while (0)

#define CHECK_EQ(a, b) ::testing::check_eq((a), (b), #a, #b, __FILE__, __LINE__)
#define CHECK_STR(a, b) ::testing::check_str((a), (b), #a, #b, __FILE__, __LINE__)
