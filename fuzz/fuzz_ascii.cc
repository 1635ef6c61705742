// Fuzz target: ASCII-mode transfer conversion (AsciiEncoder for downloads, AsciiDecoder for
// uploads) fed in pieces whose sizes come from the input, as reads of a file or a socket would
// split it. Results must not depend on where the pieces end; the encoder never lets a bare LF
// through; decoding what the encoder made of a CR-free text gives that text back.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ftp_command.h"
#include "fuzz_common.h"

namespace {

std::string EncodeInPieces(std::string_view text, const std::vector<std::size_t>& cuts) {
  keepftpd::AsciiEncoder enc;
  std::string out;
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    std::size_t n = std::min(cut, text.size() - pos);
    enc.Convert(text.substr(pos, n), &out);
    pos += n;
  }
  enc.Convert(text.substr(pos), &out);
  return out;
}

std::string DecodeInPieces(std::string_view text, const std::vector<std::size_t>& cuts) {
  keepftpd::AsciiDecoder dec;
  std::string out;
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    std::size_t n = std::min(cut, text.size() - pos);
    dec.Convert(text.substr(pos, n), &out);
    pos += n;
  }
  dec.Convert(text.substr(pos), &out);
  dec.Finish(&out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  // Piece sizes come from the end of the input, the text from the rest.
  std::vector<std::size_t> cuts;
  const std::size_t pieces = fdp.ConsumeIntegralInRange<std::size_t>(0, 16);
  for (std::size_t i = 0; i < pieces; ++i) {
    cuts.push_back(fdp.ConsumeIntegralInRange<std::size_t>(0, 64));
  }
  const std::string text = fdp.ConsumeRemainingBytesAsString();
  const std::vector<std::size_t> whole;

  // Encoder: no LF without a CR before it, the same output however the text is cut, and only
  // CRs added.
  const std::string encoded = EncodeInPieces(text, cuts);
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '\n') FUZZ_CHECK(i > 0 && encoded[i - 1] == '\r');
  }
  FUZZ_CHECK(encoded == EncodeInPieces(text, whole));
  std::size_t bare_lf = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) ++bare_lf;
  }
  FUZZ_CHECK(encoded.size() == text.size() + bare_lf);
  // ... and exactly what the plain byte-by-byte rule gives.
  std::string expected;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) expected += '\r';
    expected += text[i];
  }
  FUZZ_CHECK(encoded == expected);

  // Decoder: the same output however the text is cut, never longer than its input.
  const std::string decoded = DecodeInPieces(text, cuts);
  FUZZ_CHECK(decoded == DecodeInPieces(text, whole));
  FUZZ_CHECK(decoded.size() <= text.size());

  // Round trip for text without CR (CR LF pairs in the input are the one ambiguity).
  if (text.find('\r') == std::string::npos) {
    FUZZ_CHECK(DecodeInPieces(encoded, cuts) == text);
  }
  return 0;
}
