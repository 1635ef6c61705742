// Tests for src/jail/ftp_path.cc: path resolution and 257 quoting.
#include "ftp_path.h"

#include <doctest/doctest.h>

#include <string>

namespace keepftpd {
namespace {

std::string Resolve(std::string_view cwd, std::string_view arg) {
  Result<std::string> r = ResolvePath(cwd, arg);
  if (!r.ok()) return "<error: " + r.status().message() + ">";
  return *r;
}

TEST_CASE("ResolvePath joins relative arguments to the current directory") {
  CHECK(Resolve("/", "pub") == "/pub");
  CHECK(Resolve("/home/user", "docs/a.txt") == "/home/user/docs/a.txt");
  CHECK(Resolve("/home/user", "./docs/./a.txt") == "/home/user/docs/a.txt");
  CHECK(Resolve("/home/user", "...") == "/home/user/...");
  CHECK(Resolve("/home/user", "~") == "/home/user/~");
}

TEST_CASE("ResolvePath keeps absolute arguments and normalises them") {
  CHECK(Resolve("/home/user", "/etc") == "/etc");
  CHECK(Resolve("/home/user", "//a//b/") == "/a/b");
  CHECK(Resolve("/home/user", "/") == "/");
  CHECK(Resolve("/x", "/a/./b/../c") == "/a/c");
}

TEST_CASE("ResolvePath resolves '..' but never above the root") {
  CHECK(Resolve("/a/b", "..") == "/a");
  CHECK(Resolve("/a/b", "../c") == "/a/c");
  CHECK(Resolve("/a", "../../..") == "/");
  CHECK(Resolve("/", "..") == "/");
  CHECK(Resolve("/", "/../../etc/passwd") == "/etc/passwd");
}

TEST_CASE("ResolvePath treats '.' and an empty argument as the current directory") {
  CHECK(Resolve("/a/b", ".") == "/a/b");
  CHECK(Resolve("/a/b", "") == "/a/b");
  CHECK(Resolve("/", "") == "/");
  CHECK(Resolve("/a/b", "./") == "/a/b");
}

TEST_CASE("ResolvePath rejects NUL, CR and LF bytes") {
  CHECK_FALSE(ResolvePath("/", std::string_view("a\0b", 3)).ok());
  CHECK_FALSE(ResolvePath("/", "a\rb").ok());
  CHECK_FALSE(ResolvePath("/", "a\nb").ok());
  CHECK_FALSE(ResolvePath("/", "\n").ok());
}

TEST_CASE("ResolvePath rejects over-long arguments and results") {
  std::string longest(kMaxPathLength - 1, 'a');  // "/" + this fits exactly
  CHECK(ResolvePath("/", longest).ok());
  CHECK_FALSE(ResolvePath("/", std::string(kMaxPathLength + 1, 'a')).ok());
  CHECK_FALSE(ResolvePath("/", std::string(kMaxPathLength, 'a')).ok());  // result too long
  std::string cwd = "/" + std::string(3000, 'c');
  CHECK_FALSE(ResolvePath(cwd, std::string(2000, 'd')).ok());
  // Long but collapsing to something short is fine.
  std::string dots;
  for (int i = 0; i < 1000; ++i) dots += "./";
  CHECK(Resolve("/a", dots) == "/a");
}

TEST_CASE("SplitDirBase splits off the last component") {
  using P = std::pair<std::string, std::string>;
  CHECK(SplitDirBase("/a/b") == P{"/a", "b"});
  CHECK(SplitDirBase("/a/b/c.txt") == P{"/a/b", "c.txt"});
  CHECK(SplitDirBase("/a") == P{"/", "a"});
  CHECK(SplitDirBase("/") == P{"/", ""});
}

TEST_CASE("HasWildcard detects '*' and '?'") {
  CHECK(HasWildcard("*.txt"));
  CHECK(HasWildcard("a?c"));
  CHECK_FALSE(HasWildcard("plain.txt"));
  CHECK_FALSE(HasWildcard(""));
}

TEST_CASE("QuoteForReply doubles double quotes") {
  CHECK(QuoteForReply("/pub") == "/pub");
  CHECK(QuoteForReply("/a\"b") == "/a\"\"b");
  CHECK(QuoteForReply("\"\"") == "\"\"\"\"");
  CHECK(QuoteForReply("") == "");
}

}  // namespace
}  // namespace keepftpd
