// The tool-call parsers on any model reply: parseToolCalls never throws, and ToolCallStream fed in pieces (sizes
// from the first input byte) gives exactly what the whole reply gives at once (splitToolCalls).
#include "FuzzSupport.h"

#include "runtime/ToolCallStream.h"
#include "runtime/ToolCalls.h"

using namespace granite;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const uint8_t pieceSeed = data[0];
  const std::string_view reply(reinterpret_cast<const char *>(data + 1), size - 1);

  const runtime::ParsedReply parsed = runtime::parseToolCalls(reply);
  for (const runtime::ToolCall &call : parsed.toolCalls) {
    fuzz::require(call.arguments.is_object(), "parsed arguments are an object");
    runtime::toolCallJson(call);
  }

  const runtime::SplitReply whole = runtime::splitToolCalls(reply);
  runtime::ToolCallStream stream;
  runtime::SplitReply pieces;
  auto collect = [&](std::vector<runtime::ToolCallStream::Event> events) {
    for (runtime::ToolCallStream::Event &event : events) {
      if (event.isCall)
        pieces.calls.push_back(std::move(event.call));
      else
        pieces.content += event.content;
    }
  };
  size_t pieceSize = pieceSeed % 5 + 1;
  for (size_t offset = 0; offset < reply.size(); offset += pieceSize, pieceSize = pieceSize % 5 + 1 + pieceSeed / 51)
    collect(stream.push(reply.substr(offset, pieceSize)));
  collect(stream.finish());
  fuzz::require(pieces.content == whole.content, "streamed content equals the whole reply's");
  fuzz::require(pieces.calls.size() == whole.calls.size(), "streamed calls equal the whole reply's");
  for (size_t i = 0; i < whole.calls.size(); ++i)
    fuzz::require(pieces.calls[i].name == whole.calls[i].name && pieces.calls[i].arguments == whole.calls[i].arguments,
                  "streamed calls equal the whole reply's");
  return 0;
}
