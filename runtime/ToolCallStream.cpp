#include "runtime/ToolCallStream.h"

#include <algorithm>

namespace granite::runtime {
namespace {

constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/// The length of the longest suffix of `text` that is a proper prefix of `tag`.
size_t partialTagSuffix(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(tag.size() - 1, text.size()); n > 0; --n)
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

} // namespace

void ToolCallStream::addContent(std::vector<Event> &events, std::string_view text) {
  if (text.empty()) return;
  emittedContent_ = true;
  if (!events.empty() && !events.back().isCall) {
    events.back().content.append(text);
    return;
  }
  Event event;
  event.content = std::string(text);
  events.push_back(std::move(event));
}

std::vector<ToolCallStream::Event> ToolCallStream::push(std::string_view text) {
  pending_.append(text);
  std::vector<Event> events;
  drain(events, /*atEnd=*/false);
  return events;
}

std::vector<ToolCallStream::Event> ToolCallStream::finish() {
  std::vector<Event> events;
  drain(events, /*atEnd=*/true);
  if (inBlock_)
    addContent(events, std::string(kOpen) + pending_);
  else
    addContent(events, pending_);
  pending_.clear();
  inBlock_ = false;
  return events;
}

void ToolCallStream::drain(std::vector<Event> &events, bool atEnd) {
  for (;;) {
    if (inBlock_) {
      size_t close = pending_.find(kClose);
      if (close == std::string::npos) return;
      std::string block = std::string(kOpen) + pending_.substr(0, close + kClose.size());
      pending_.erase(0, close + kClose.size());
      inBlock_ = false;
      ParsedReply parsed = parseToolCalls(block);
      if (parsed.errors.empty() && parsed.toolCalls.size() == 1) {
        Event event;
        event.isCall = true;
        event.call = std::move(parsed.toolCalls.front());
        events.push_back(std::move(event));
        afterBlock_ = true;
      } else {
        addContent(events, block);
      }
      continue;
    }
    if (afterBlock_) {
      size_t firstText = 0;
      while (firstText < pending_.size() && isSpace(pending_[firstText])) ++firstText;
      if (firstText == pending_.size()) {
        if (atEnd) pending_.clear(); // whitespace after the last call
        return;
      }
      // Text after calls: the whitespace before it separates it from the content before the calls, if any.
      if (!emittedContent_) pending_.erase(0, firstText);
      afterBlock_ = false;
    }
    size_t open = pending_.find(kOpen);
    if (open != std::string::npos) {
      size_t end = open;
      while (end > 0 && isSpace(pending_[end - 1])) --end; // whitespace before a block is dropped
      addContent(events, std::string_view(pending_).substr(0, end));
      pending_.erase(0, open + kOpen.size());
      inBlock_ = true;
      continue;
    }
    if (atEnd) return; // finish() takes the rest as it is
    // Hold back what may still become "<tool_call>" and the whitespace before it.
    size_t keep = pending_.size() - partialTagSuffix(pending_, kOpen);
    while (keep > 0 && isSpace(pending_[keep - 1])) --keep;
    addContent(events, std::string_view(pending_).substr(0, keep));
    pending_.erase(0, keep);
    return;
  }
}

SplitReply splitToolCalls(std::string_view reply) {
  ToolCallStream stream;
  std::vector<ToolCallStream::Event> events = stream.push(reply);
  std::vector<ToolCallStream::Event> rest = stream.finish();
  events.insert(events.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
  SplitReply split;
  for (ToolCallStream::Event &event : events) {
    if (event.isCall)
      split.calls.push_back(std::move(event.call));
    else
      split.content += event.content;
  }
  return split;
}

} // namespace granite::runtime
