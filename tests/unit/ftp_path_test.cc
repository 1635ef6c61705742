// Tests for src/jail/ftp_path.cc: path resolution, wildcard matching, name filters, 257 quoting.
#include "ftp_path.h"

#include <doctest/doctest.h>

#include <chrono>
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

TEST_CASE("WildcardMatch handles '*', '?' and literal bytes") {
  CHECK(WildcardMatch("*", ""));
  CHECK(WildcardMatch("*", "anything"));
  CHECK(WildcardMatch("", ""));
  CHECK_FALSE(WildcardMatch("", "a"));
  CHECK_FALSE(WildcardMatch("?", ""));
  CHECK(WildcardMatch("?", "x"));
  CHECK(WildcardMatch("*.txt", "a.txt"));
  CHECK(WildcardMatch("*.txt", ".txt"));
  CHECK_FALSE(WildcardMatch("*.txt", "a.txt.bak"));
  CHECK(WildcardMatch("a*b*c", "abc"));
  CHECK(WildcardMatch("a*b*c", "axxbyyc"));
  CHECK_FALSE(WildcardMatch("a*b*c", "axxbyy"));
  CHECK(WildcardMatch("a?c", "abc"));
  CHECK_FALSE(WildcardMatch("a?c", "ac"));
  CHECK(WildcardMatch("**a**", "bab"));
  CHECK(WildcardMatch("*ab", "aab"));
  CHECK(WildcardMatch("file[1].txt", "file[1].txt"));
  CHECK_FALSE(WildcardMatch("File.txt", "file.txt"));
  CHECK(WildcardMatch("*?", "a"));
  CHECK_FALSE(WildcardMatch("*??", "a"));
}

TEST_CASE("WildcardMatch finishes quickly on a pathological pattern") {
  std::string name(4000, 'a');
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(WildcardMatch("*a*a*a*a*a*a*a*a*b", name));
  CHECK(WildcardMatch("*a*a*a*a*a*a*a*a*", name));
  name += 'b';
  CHECK(WildcardMatch("*a*a*a*a*a*a*a*a*b", name));
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::seconds(1));
}

TEST_CASE("NameFilter parses brace lists and single patterns") {
  Result<NameFilter> f = NameFilter::Parse("{*.mp3,*.mov,.private}");
  CHECK(f.ok());
  if (!f.ok()) return;
  CHECK_FALSE(f->empty());
  CHECK(f->Matches("song.mp3"));
  CHECK(f->Matches("clip.mov"));
  CHECK(f->Matches(".private"));
  CHECK_FALSE(f->Matches("notes.txt"));
  CHECK_FALSE(f->Matches(".private2"));

  Result<NameFilter> single = NameFilter::Parse("*.bak");
  CHECK(single.ok());
  if (!single.ok()) return;
  CHECK(single->Matches("x.bak"));
  CHECK_FALSE(single->Matches("x.bak2"));

  Result<NameFilter> one = NameFilter::Parse("{secret}");
  CHECK(one.ok());
  if (!one.ok()) return;
  CHECK(one->Matches("secret"));
}

TEST_CASE("An empty NameFilter matches nothing") {
  NameFilter def;
  CHECK(def.empty());
  CHECK_FALSE(def.Matches("anything"));
  CHECK_FALSE(def.MatchesAnyComponent("/a/b"));
  Result<NameFilter> parsed = NameFilter::Parse("");
  CHECK(parsed.ok());
  if (!parsed.ok()) return;
  CHECK(parsed->empty());
  CHECK_FALSE(parsed->Matches(""));
}

TEST_CASE("NameFilter rejects unbalanced braces and empty alternatives") {
  CHECK_FALSE(NameFilter::Parse("{").ok());
  CHECK_FALSE(NameFilter::Parse("}").ok());
  CHECK_FALSE(NameFilter::Parse("{a,b").ok());
  CHECK_FALSE(NameFilter::Parse("a,b}").ok());
  CHECK_FALSE(NameFilter::Parse("{}").ok());
  CHECK_FALSE(NameFilter::Parse("{a,}").ok());
  CHECK_FALSE(NameFilter::Parse("{,a}").ok());
  CHECK_FALSE(NameFilter::Parse("{a,,b}").ok());
  CHECK_FALSE(NameFilter::Parse("{a,{b}}").ok());
  CHECK_FALSE(NameFilter::Parse("x{a}").ok());
}

TEST_CASE("NameFilter::MatchesAnyComponent denies everything below a matching directory") {
  Result<NameFilter> f = NameFilter::Parse("{.private,*.mp3}");
  CHECK(f.ok());
  if (!f.ok()) return;
  CHECK(f->MatchesAnyComponent("/.private"));
  CHECK(f->MatchesAnyComponent("/home/.private/notes.txt"));
  CHECK(f->MatchesAnyComponent("/music/a.mp3"));
  CHECK_FALSE(f->MatchesAnyComponent("/home/public/notes.txt"));
  CHECK_FALSE(f->MatchesAnyComponent("/"));
}

TEST_CASE("QuoteForReply doubles double quotes") {
  CHECK(QuoteForReply("/pub") == "/pub");
  CHECK(QuoteForReply("/a\"b") == "/a\"\"b");
  CHECK(QuoteForReply("\"\"") == "\"\"\"\"");
  CHECK(QuoteForReply("") == "");
}

}  // namespace
}  // namespace keepftpd
