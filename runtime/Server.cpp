#include "runtime/Server.h"

#include "runtime/ChatTemplate.h"
#include "runtime/GenerationQueue.h"
#include "runtime/OpenAiRequest.h"
#include "runtime/OpenAiResponse.h"
#include "runtime/ServerMetrics.h"
#include "runtime/ToolCallStream.h"
#include "runtime/Utf8.h"

#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <limits>
#include <sys/socket.h>
#include <unistd.h>

// cpp-httplib 0.11.4, header-only, without TLS or compression (scripts/setup fetches it into .cache/cpp-httplib).
// Writes use MSG_NOSIGNAL: a client that hung up must end its reply, not the process with SIGPIPE.
#define CPPHTTPLIB_SEND_FLAGS MSG_NOSIGNAL
// A body sent as form data (curl -d without a Content-Type) is JSON all the same; only the payload limit applies.
#define CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH (std::numeric_limits<size_t>::max)()
#include "httplib.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <ostream>
#include <random>
#include <thread>

namespace granite::runtime {
namespace {

using Json = nlohmann::ordered_json;
using namespace std::chrono_literals;

/// How often a handler that waits for the model checks that its client is still there.
constexpr auto kPollInterval = 50ms;

// ---- SIGTERM / SIGINT ------------------------------------------------------------------------------------------

int gStopPipe[2] = {-1, -1};

extern "C" void onStopSignal(int) {
  char byte = 1;
  ssize_t ignored = write(gStopPipe[1], &byte, 1);
  (void)ignored;
}

/// Turns SIGTERM and SIGINT into a byte on a pipe that a thread can wait for; restores the previous handlers.
class StopSignals {
public:
  StopSignals() {
    if (pipe(gStopPipe) != 0) throw std::runtime_error("cannot create the signal pipe");
    fcntl(gStopPipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction action{};
    action.sa_handler = onStopSignal;
    action.sa_flags = SA_RESTART; // the server's threads should not see EINTR
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, &previousTerm_);
    sigaction(SIGINT, &action, &previousInt_);
    struct sigaction ignore{};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, &previousPipe_);
  }
  ~StopSignals() {
    sigaction(SIGTERM, &previousTerm_, nullptr);
    sigaction(SIGINT, &previousInt_, nullptr);
    sigaction(SIGPIPE, &previousPipe_, nullptr);
    close(gStopPipe[0]);
    close(gStopPipe[1]);
    gStopPipe[0] = gStopPipe[1] = -1;
  }
  /// Blocks until a signal arrives or wake() is called.
  void wait() {
    char byte;
    while (read(gStopPipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
  }
  void wake() { onStopSignal(0); }

private:
  struct sigaction previousTerm_{}, previousInt_{}, previousPipe_{};
};

// ---- Client liveness ---------------------------------------------------------------------------------------------

/// The socket of the connection `request` came on. httplib 0.11.4 does not hand it to handlers, so it is found by
/// its address pair among the open descriptors (once per request); -1 if not found.
int connectionSocket(const httplib::Request &request) {
  auto matches = [&](int fd) {
    sockaddr_storage peer{};
    socklen_t length = sizeof(peer);
    if (getpeername(fd, reinterpret_cast<sockaddr *>(&peer), &length) != 0) return false;
    std::string remoteIp, localIp;
    int remotePort = -1, localPort = -1;
    httplib::detail::get_remote_ip_and_port(fd, remoteIp, remotePort);
    if (remotePort != request.remote_port || remoteIp != request.remote_addr) return false;
    httplib::detail::get_local_ip_and_port(fd, localIp, localPort);
    return localPort == request.local_port && localIp == request.local_addr;
  };
  int found = -1;
  if (DIR *fds = opendir("/proc/self/fd")) {
    while (dirent *entry = readdir(fds)) {
      int fd = std::atoi(entry->d_name);
      if (entry->d_name[0] != '.' && fd > 2 && matches(fd)) {
        found = fd;
        break;
      }
    }
    closedir(fds);
  }
  return found;
}

/// Whether the client is still connected (a closed connection reads as end of file).
bool clientConnected(int socket) { return socket < 0 || httplib::detail::is_socket_alive(socket); }

// ---- Responses ---------------------------------------------------------------------------------------------------

void sendJson(httplib::Response &response, int status, const Json &body) {
  response.status = status;
  response.set_content(dumpJson(body), "application/json");
}

void sendError(httplib::Response &response, const ApiError &error) { sendJson(response, error.status, error.toJson()); }

/// A checked request and its prompt ids.
struct PreparedRequest {
  OpenAiRequest request;
  std::vector<int32_t> prompt;
};

/// One streamed reply: the role chunk, then the reply's pieces as they come (tool-call blocks as tool_calls deltas),
/// the finish chunk (with the whole reply's logprobs when asked), the usage chunk when asked, and [DONE]. A failed
/// write or a client that went away cancels the generation.
class EventStream {
public:
  EventStream(OpenAiRequest request, std::shared_ptr<GenerationJob> job, ResponseInfo info, int socket,
              const Tokenizer &tokenizer, std::function<ApiError(const GenerationJob &)> jobError)
      : request_(std::move(request)), job_(std::move(job)), info_(std::move(info)), socket_(socket),
        tokenizer_(tokenizer), jobError_(std::move(jobError)) {}

  /// Writes the whole stream to `sink`; false when the client is gone.
  bool write(httplib::DataSink &sink) {
    sink_ = &sink;
    bool open = !request_.chat || send(chatChunkJson(info_, Json{{"role", "assistant"}, {"content", ""}}));
    for (bool finished = !open; !finished;) {
      GenerationJob::Update update = job_->waitForUpdate(kPollInterval);
      finished = update.finished;
      if (!update.text.empty() && !sendText(update.text)) open = false;
      if (open && !clientConnected(socket_)) {
        job_->cancel();
        open = false;
      }
      if (!open) break;
    }
    if (!open) {
      while (!job_->waitForUpdate(kPollInterval).finished) {
      }
      return false;
    }
    if (!job_->error().empty()) {
      if (!send(jobError_(*job_).toJson())) return false;
    } else if (!sendEnd(job_->result())) {
      return false;
    }
    if (!sendRaw("data: [DONE]\n\n")) return false;
    sink.done();
    return true;
  }

private:
  bool sendRaw(const std::string &event) {
    if (sink_->write(event.data(), event.size())) return true;
    job_->cancel();
    return false;
  }
  bool send(const Json &chunk) { return sendRaw("data: " + dumpJson(chunk) + "\n\n"); }

  /// A piece of reply text; empty: the end of the reply (what the tool-call split still holds).
  bool sendText(std::string_view text) {
    if (!request_.chat) return text.empty() || send(completionChunkJson(info_, text));
    std::vector<ToolCallStream::Event> events;
    if (request_.parsesToolCalls())
      events = text.empty() ? toolCalls_.finish() : toolCalls_.push(text);
    else if (!text.empty())
      events.push_back(ToolCallStream::Event{std::string(text), false, {}});
    for (const ToolCallStream::Event &event : events) {
      Json delta;
      if (event.isCall) {
        Json call{{"index", callCount_++}};
        Json fields = openAiToolCallJson(event.call, newToolCallId());
        for (auto &[key, value] : fields.items()) call[key] = value;
        delta["tool_calls"] = Json::array({std::move(call)});
      } else {
        delta["content"] = event.content;
      }
      if (!send(chatChunkJson(info_, std::move(delta)))) return false;
    }
    return true;
  }

  bool sendEnd(const GenerationResult &result) {
    if (!sendText({})) return false;
    const char *finish = finishReason(result.stopReason, callCount_ > 0);
    Json logprobs;
    if (request_.logprobs)
      logprobs = request_.chat ? chatLogprobsJson(result.logprobs, tokenizer_, false)
                               : completionLogprobsJson(result.logprobs, tokenizer_, false);
    if (!send(request_.chat ? chatChunkJson(info_, Json::object(), finish, logprobs)
                            : completionChunkJson(info_, "", finish, logprobs)))
      return false;
    return !request_.includeUsage ||
           send(usageChunkJson(info_, request_.chat ? "chat.completion.chunk" : "text_completion", result));
  }

  const OpenAiRequest request_;
  const std::shared_ptr<GenerationJob> job_;
  const ResponseInfo info_;
  const int socket_;
  const Tokenizer &tokenizer_;
  const std::function<ApiError(const GenerationJob &)> jobError_;
  httplib::DataSink *sink_ = nullptr;
  ToolCallStream toolCalls_;
  int callCount_ = 0;
};

class OpenAiServer {
public:
  OpenAiServer(const ServerOptions &options, Tokenizer &tokenizer, const VocabularyTrieSource &tries, Model &model,
               StateCache &cache)
      : options_(options), tokenizer_(tokenizer), tries_(tries), model_(model),
        modelName_(options.modelName.empty() ? "granite" : options.modelName),
        generator_(model, tokenizer, options.defaults, &cache),
        queue_(generator_, static_cast<size_t>(std::max(0, options.maxQueue)),
               [this, &cache](const GenerationResult &result) {
                 metrics_.countGeneration(result, cache.bytes(), cache.entries());
               }),
        startTime_(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                       .count()) {
    int32_t startOfRole = tokenizer.findAddedToken("<|start_of_role|>");
    if (startOfRole >= 0) chatStopIds_.push_back(startOfRole);
    configure();
  }

  int run(std::ostream &log) {
    StopSignals signals;
    int port = options_.port;
    if (port == 0)
      port = http_.bind_to_any_port(options_.host);
    else if (!http_.bind_to_port(options_.host, port))
      port = -1;
    if (port < 0) {
      log << "cannot listen on " << toValidUtf8(options_.host) << ":" << options_.port << "\n";
      return 1;
    }
    // One write, so that a reader of the stream sees the whole line at once. An IPv6 address goes in brackets.
    std::string host = options_.host.find(':') == std::string::npos ? options_.host : "[" + options_.host + "]";
    log << ("listening on http://" + host + ":" + std::to_string(port) + "\n") << std::flush;

    std::atomic<bool> listenEnded{false};
    std::thread watcher([&] {
      signals.wait();
      if (listenEnded) return;
      log << "stopping: cancelling in-flight requests" << std::endl;
      stopping_ = true;
      queue_.shutdown();
      while (!http_.is_running() && !listenEnded) std::this_thread::sleep_for(10ms);
      http_.stop();
    });
    bool listened = http_.listen_after_bind();
    listenEnded = true;
    signals.wake();
    watcher.join();
    queue_.shutdown();
    if (!stopping_ && !listened) {
      log << "the server stopped unexpectedly\n";
      return 1;
    }
    log << "stopped" << std::endl;
    return 0;
  }

private:
  void configure() {
    // httplib gives each connection a thread, idle keep-alive ones too: room for every queued request, the running
    // one, as many idle connections, and /health and /metrics.
    size_t threads = 2 * static_cast<size_t>(std::max(0, options_.maxQueue)) + 8;
    http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http_.set_payload_max_length(options_.maxBodyBytes);
    http_.set_keep_alive_timeout(2);
    http_.set_write_timeout(10, 0);

    http_.set_pre_routing_handler([this](const httplib::Request &request, httplib::Response &response) {
      if (options_.apiKey.empty() || request.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
      if (authorized(request)) return httplib::Server::HandlerResponse::Unhandled;
      sendError(response, ApiError(401, "Incorrect API key provided. Give it as 'Authorization: Bearer KEY'.",
                                   "invalid_request_error", "", "invalid_api_key"));
      response.set_header("WWW-Authenticate", "Bearer");
      return httplib::Server::HandlerResponse::Handled;
    });
    // Responses httplib makes itself (unknown path, body too large, unparsable request) get OpenAI's error shape.
    http_.set_error_handler(
        httplib::Server::HandlerWithResponse([this](const httplib::Request &request, httplib::Response &response) {
          if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          sendError(response, httpError(request, response.status));
          return httplib::Server::HandlerResponse::Handled;
        }));
    http_.set_exception_handler([](const httplib::Request &, httplib::Response &response, std::exception_ptr error) {
      std::string message = "internal error";
      try {
        std::rethrow_exception(error);
      } catch (const std::exception &e) {
        message += std::string(": ") + e.what();
      } catch (...) {
      }
      sendError(response, ApiError(500, message, "server_error"));
    });
    http_.set_post_routing_handler(
        [this](const httplib::Request &, httplib::Response &response) { metrics_.countResponse(response.status); });

    http_.Post("/v1/chat/completions",
               [this](const httplib::Request &q, httplib::Response &r) { generate(q, r, /*chat=*/true); });
    http_.Post("/v1/completions",
               [this](const httplib::Request &q, httplib::Response &r) { generate(q, r, /*chat=*/false); });
    http_.Get("/v1/models", [this](const httplib::Request &, httplib::Response &r) {
      sendJson(r, 200, Json{{"object", "list"}, {"data", Json::array({modelJson()})}});
    });
    http_.Get(R"(/v1/models/(.+))", [this](const httplib::Request &q, httplib::Response &r) {
      if (q.matches[1] == modelName_) return sendJson(r, 200, modelJson());
      sendError(r, ApiError(404, "The model '" + std::string(q.matches[1]) + "' does not exist",
                            "invalid_request_error", "model", "model_not_found"));
    });
    http_.Get("/health", [this](const httplib::Request &, httplib::Response &r) {
      if (stopping_) return sendJson(r, 503, Json{{"status", "stopping"}});
      sendJson(r, 200, Json{{"status", "ok"}});
    });
    http_.Get("/metrics", [this](const httplib::Request &, httplib::Response &r) {
      r.set_content(metrics_.prometheusText(queue_.waiting(), queue_.busy()), "text/plain; version=0.0.4");
    });
    for (const char *path : {"/v1/chat/completions", "/v1/completions"}) refuseOtherMethods(path, "POST");
    for (const char *path : {"/v1/models", R"(/v1/models/(.+))", "/health", "/metrics"})
      refuseOtherMethods(path, "GET");
  }

  bool authorized(const httplib::Request &request) const {
    const std::string expected = "Bearer " + options_.apiKey;
    const std::string given = request.get_header_value("Authorization");
    // Compared in time independent of where they differ.
    unsigned char difference = given.size() != expected.size();
    for (size_t i = 0; i < expected.size(); ++i)
      difference |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
    return difference == 0;
  }

  void refuseOtherMethods(const std::string &path, const std::string &allowed) {
    auto refuse = [allowed](const httplib::Request &request, httplib::Response &response) {
      sendError(response, ApiError(405, request.method + " is not allowed on " + request.path + "; use " + allowed,
                                   "invalid_request_error", "", "method_not_allowed"));
      response.set_header("Allow", allowed);
    };
    if (allowed != "GET") http_.Get(path, refuse);
    if (allowed != "POST") http_.Post(path, refuse);
    http_.Put(path, refuse);
    http_.Patch(path, refuse);
    http_.Delete(path, refuse);
  }

  ApiError httpError(const httplib::Request &request, int status) const {
    switch (status) {
    case 404:
      return ApiError(404, "Unknown request URL: " + request.method + " " + request.path, "invalid_request_error", "",
                      "unknown_url");
    case 413:
      return ApiError(413, "the request body is larger than " + std::to_string(options_.maxBodyBytes) + " bytes",
                      "invalid_request_error", "", "request_too_large");
    case 400: return ApiError(400, "the HTTP request could not be parsed", "invalid_request_error");
    default:
      return ApiError(status, httplib::detail::status_message(status),
                      status < 500 ? "invalid_request_error" : "server_error");
    }
  }

  Json modelJson() const {
    return Json{{"id", modelName_}, {"object", "model"}, {"created", startTime_}, {"owned_by", "granitec"}};
  }

  // ---- Generation ----------------------------------------------------------------------------------------------

  void generate(const httplib::Request &http, httplib::Response &response, bool chat) {
    try {
      PreparedRequest prepared = prepare(http.body, chat);
      const OpenAiRequest &request = prepared.request;
      GenerationLimits limits;
      limits.maxTokens = request.maxTokens;
      limits.stopStrings = request.stop;
      if (chat) limits.stopIds = chatStopIds_;
      limits.topLogprobs = request.logprobs ? request.topLogprobs : -1;
      if (request.grammar) limits.constraint = constraintFor(request);
      uint64_t seed = std::random_device{}();
      auto job = std::make_shared<GenerationJob>(prepared.prompt, std::move(limits),
                                                 samplingFor(request, options_.defaults, seed));
      if (stopping_ || !queue_.submit(job))
        throw ApiError(503,
                       stopping_ ? "the server is shutting down"
                                 : "the server is busy (" + std::to_string(options_.maxQueue) +
                                       " requests are waiting); retry later",
                       "server_error", "", stopping_ ? "shutting_down" : "queue_full");
      ResponseInfo info = chat ? newChatResponseInfo(modelName_) : newCompletionResponseInfo(modelName_);
      int socket = connectionSocket(http);
      if (request.stream)
        stream(std::move(prepared.request), job, info, socket, response);
      else
        reply(request, *job, info, socket, response);
    } catch (const ApiError &error) {
      sendError(response, error);
    }
  }

  PreparedRequest prepare(const std::string &body, bool chat) {
    PreparedRequest prepared;
    prepared.request =
        chat ? parseChatRequest(body, tokenizer_.size()) : parseCompletionRequest(body, tokenizer_.size());
    const OpenAiRequest &request = prepared.request;
    RenderedChat rendered;
    if (chat) {
      try {
        rendered = renderGraniteChat(request.messages, request.renderedTools(), Json(), /*addGenerationPrompt=*/true);
      } catch (const ChatTemplateError &e) {
        throw ApiError(400, e.what(), "invalid_request_error", "messages");
      }
    }
    {
      std::lock_guard<std::mutex> lock(tokenizerMutex_);
      if (chat)
        prepared.prompt = tokenizer_.encodeTemplate(rendered.text, rendered.literalSpans);
      else if (request.promptIds)
        prepared.prompt = *request.promptIds;
      else
        prepared.prompt = tokenizer_.encode(request.prompt, /*parseSpecial=*/true);
    }
    int32_t context = model_.contextLength();
    // At least one position must be left for the reply.
    if (context > 0 && static_cast<int64_t>(prepared.prompt.size()) >= context)
      throw ApiError(400,
                     "This model's maximum context length is " + std::to_string(context) + " tokens. However, your " +
                         (chat ? "messages" : "prompt") + " resulted in " + std::to_string(prepared.prompt.size()) +
                         " tokens (at most " + std::to_string(context - 1) + " leave room for a reply).",
                     "invalid_request_error", chat ? "messages" : "prompt", "context_length_exceeded");
    return prepared;
  }

  /// The token masks of a structured reply; the vocabulary's trie is read on the first one (docs/runtime.md).
  std::shared_ptr<JsonConstraint> constraintFor(const OpenAiRequest &request) {
    int32_t open = -1, close = -1;
    if (request.toolCallGrammar) {
      open = tokenizer_.findAddedToken("<tool_call>");
      close = tokenizer_.findAddedToken("</tool_call>");
      if (open < 0 || close < 0)
        throw ApiError(400,
                       "this model's vocabulary has no <tool_call> and </tool_call> tokens, which tool_choice "
                       "\"required\" or a named function needs",
                       "invalid_request_error", "tool_choice");
    }
    return std::make_shared<JsonConstraint>(request.grammar, tries_.get(), tokenizer_, open, close);
  }

  /// A job that produced no result: refused at shutdown, or the generator failed (not the client's doing).
  ApiError jobError(const GenerationJob &job) const {
    if (stopping_) return ApiError(503, job.error(), "server_error", "", "shutting_down");
    return ApiError(500, job.error(), "server_error");
  }

  /// Waits for the whole reply; cancels the job if the client goes away meanwhile.
  void reply(const OpenAiRequest &request, GenerationJob &job, const ResponseInfo &info, int socket,
             httplib::Response &response) {
    while (!job.waitForUpdate(kPollInterval).finished)
      if (!job.cancelled() && !clientConnected(socket)) job.cancel();
    if (!job.error().empty()) return sendError(response, jobError(job));
    const GenerationResult &result = job.result();
    if (request.chat) {
      ChatReplyOptions options;
      options.toolCalls = request.parsesToolCalls();
      options.logprobs = request.logprobs;
      sendJson(response, 200, chatCompletionJson(result, tokenizer_, info, options));
    } else {
      sendJson(response, 200, textCompletionJson(result, tokenizer_, info, request.logprobs));
    }
  }

  /// Server-sent events (EventStream below), written by httplib's thread for this connection.
  void stream(OpenAiRequest request, std::shared_ptr<GenerationJob> job, ResponseInfo info, int socket,
              httplib::Response &response) {
    response.set_header("Cache-Control", "no-cache");
    auto events = std::make_shared<EventStream>(std::move(request), std::move(job), std::move(info), socket, tokenizer_,
                                                [this](const GenerationJob &failed) { return jobError(failed); });
    response.set_chunked_content_provider("text/event-stream",
                                          [events](size_t, httplib::DataSink &sink) { return events->write(sink); });
  }

  const ServerOptions &options_;
  Tokenizer &tokenizer_;
  const VocabularyTrieSource &tries_;
  Model &model_;
  const std::string modelName_;
  std::mutex tokenizerMutex_; ///< encode() is not thread-safe; the generator only uses the const lookups
  std::vector<int32_t> chatStopIds_;
  ServerMetrics metrics_;
  Generator generator_;
  GenerationQueue queue_;
  httplib::Server http_;
  std::atomic<bool> stopping_{false};
  const int64_t startTime_;
};

} // namespace

int runServer(const ServerOptions &options, Tokenizer &tokenizer, const VocabularyTrieSource &tries, Model &model,
              StateCache &cache, std::ostream &log) {
  OpenAiServer server(options, tokenizer, tries, model, cache);
  return server.run(log);
}

} // namespace granite::runtime
