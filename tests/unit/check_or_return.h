// CHECK_OR_RETURN for the unit tests: doctest's REQUIRE needs exceptions, which the project does
// not have; this checks, and leaves the test (or a helper, returning the extra argument) when the
// check fails.
#ifndef KEEPFTPD_TESTS_UNIT_CHECK_OR_RETURN_H_
#define KEEPFTPD_TESTS_UNIT_CHECK_OR_RETURN_H_

#include <doctest/doctest.h>

#define CHECK_OR_RETURN(cond, ...)  \
  do {                              \
    const bool ok_ = (cond);        \
    CHECK_MESSAGE(ok_, #cond);      \
    if (!ok_) return __VA_ARGS__;   \
  } while (0)

#endif  // KEEPFTPD_TESTS_UNIT_CHECK_OR_RETURN_H_
