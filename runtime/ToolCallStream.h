// Splits a chat reply that arrives piece by piece into content text and tool calls, so that a streamed reply never
// shows part of a `<tool_call>` block: text that may still become the start of a block is held back, and each
// complete block becomes one call. The whole reply fed at once gives exactly what the pieces give.
#pragma once

#include "runtime/ToolCalls.h"

#include <string>
#include <string_view>
#include <vector>

namespace granite::runtime {

class ToolCallStream {
public:
  /// What one push or finish produced, in reply order.
  struct Event {
    std::string content; ///< content text (when call is not set)
    bool isCall = false;
    ToolCall call;
  };

  /// Feeds the next piece of the reply.
  std::vector<Event> push(std::string_view text);
  /// The end of the reply: whatever is held back becomes content (an unterminated block stays text as written).
  std::vector<Event> finish();

private:
  void drain(std::vector<Event> &events, bool atEnd);
  void addContent(std::vector<Event> &events, std::string_view text);

  std::string pending_; ///< text not yet decided
  bool inBlock_ = false;
  bool afterBlock_ = false;     ///< right after a call: whitespace is held until text shows it is not trailing
  bool emittedContent_ = false; ///< some content went out already
};

/// The content and calls of a whole reply. Whitespace between content and a call is dropped (text after calls keeps
/// the whitespace before it as a separator from earlier content). A block whose JSON is not one usable call stays in
/// the content as written, so nothing the model wrote is lost.
struct SplitReply {
  std::string content;
  std::vector<ToolCall> calls;
};
SplitReply splitToolCalls(std::string_view reply);

} // namespace granite::runtime
