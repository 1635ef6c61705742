// Tests for src/common/name_filter.cc: wildcard matching and vsftpd's filter syntax.
#include "name_filter.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

namespace keepftpd {
namespace {

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

TEST_CASE("NameFilter rejects what vsftpd's syntax does not allow, saying why") {
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
  CHECK(NameFilter::Parse("a,b").status().message().find("braces") != std::string::npos);
  CHECK(NameFilter::Parse("{a/b}").status().message().find("contains '/'") != std::string::npos);
  CHECK(NameFilter::Parse("{}").status().message().find("empty list") != std::string::npos);
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

}  // namespace
}  // namespace keepftpd
