// 科技情报参考 · 智能问答 — the page: asks /api/ask, renders quoted answers with citation chips,
// and opens cited articles in a reader panel. All corpus and question text enters the DOM as text nodes.
"use strict";

(() => {
  const CONVERSATION_KEY = "bulletin-qa.conversation.v1";
  const ISSUE_KEY = "bulletin-qa.issue.v1";
  const MAX_STORED_TURNS = 40;
  const HISTORY_TURNS = 3;
  const TOP_K = 5;
  const ARTICLE_PATH = "/articles/";
  const BULLETIN_NAME = "《科技情报参考》";

  const ui = {
    workspace: byId("workspace"),
    chat: byId("chat"),
    topbar: document.querySelector(".topbar"),
    scroller: byId("conversation-scroller"),
    welcome: byId("welcome"),
    conversation: byId("conversation"),
    composer: byId("composer"),
    question: byId("question"),
    sendButton: byId("send-button"),
    scopeHint: byId("scope-hint"),
    issueFilter: byId("issue-filter"),
    catalogueButton: byId("open-catalogue"),
    clearButton: byId("clear-conversation"),
    reader: byId("reader"),
    readerBack: byId("reader-back"),
    readerKicker: byId("reader-kicker"),
    readerTitle: byId("reader-title"),
    readerClose: byId("reader-close"),
    readerBody: byId("reader-body"),
  };

  const state = {
    turns: [],
    busy: false,
    generation: 0, // bumped by “清空对话” so a late answer to a cleared question is dropped
    issueId: null,
    issues: null,
    issuesRequest: null,
    articles: new Map(),
    reader: { view: null, pushed: false, returnFocus: null, token: 0 },
  };

  const narrowScreen = window.matchMedia("(max-width: 899.98px)");
  const phoneScreen = window.matchMedia("(max-width: 640px)");

  // ---------------------------------------------------------------- DOM helpers

  function byId(id) {
    return document.getElementById(id);
  }

  /** Creates an element; strings among `children` become text nodes, never markup. */
  function el(tag, options = {}, children = []) {
    const node = document.createElement(tag);
    if (options.className) node.className = options.className;
    if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
    for (const [name, value] of Object.entries(options.attrs || {})) node.setAttribute(name, value);
    for (const [type, handler] of Object.entries(options.on || {})) node.addEventListener(type, handler);
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function dots(count, className) {
    return el("span", { className, attrs: { "aria-hidden": "true" } }, Array.from({ length: count }, () => el("i")));
  }

  let idCounter = 0;
  function uniqueId(prefix) {
    idCounter += 1;
    return `${prefix}-${Date.now().toString(36)}-${idCounter}`;
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(message, status, code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  const STATUS_MESSAGES = {
    400: "问题格式不正确，请修改后再试。",
    404: "没有找到请求的内容。",
    415: "请求格式不被支持。",
    503: "问答服务暂时不可用（索引可能尚未建立），请稍后再试。",
  };

  async function requestJson(url, options) {
    let response;
    try {
      response = await fetch(url, options);
    } catch (networkError) {
      throw new ApiError("无法连接到问答服务，请检查网络后重试。", 0, "network");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (parseError) {
      body = null;
    }
    if (!response.ok) {
      const serverMessage = body && body.error && typeof body.error.message === "string" ? body.error.message : "";
      const fallback = STATUS_MESSAGES[response.status] || `服务出错（HTTP ${response.status}），请稍后再试。`;
      throw new ApiError(serverMessage || fallback, response.status, body && body.error ? body.error.code : "http");
    }
    if (body === null || typeof body !== "object") {
      throw new ApiError("服务返回了无法识别的内容，请稍后再试。", response.status, "bad_response");
    }
    return body;
  }

  function postQuestion(question, issueId, history) {
    return requestJson("/api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ question, top_k: TOP_K, mode: "hybrid", issue: issueId, history }),
    });
  }

  function articleApiPath(articleId) {
    return "/api/articles/" + articleId.split("/").map(encodeURIComponent).join("/");
  }

  function fetchArticle(articleId) {
    if (!state.articles.has(articleId)) {
      const request = requestJson(articleApiPath(articleId), { headers: { Accept: "application/json" } });
      request.catch(() => state.articles.delete(articleId));
      state.articles.set(articleId, request);
    }
    return state.articles.get(articleId);
  }

  function loadIssues() {
    if (!state.issuesRequest) {
      state.issuesRequest = requestJson("/api/issues", { headers: { Accept: "application/json" } })
        .then((body) => {
          state.issues = Array.isArray(body.issues) ? body.issues : [];
          return state.issues;
        })
        .catch((error) => {
          state.issuesRequest = null;
          throw error;
        });
    }
    return state.issuesRequest;
  }

  function errorTitle(error) {
    if (error.status === 0) return "网络连接失败";
    if (error.status === 400) return "这个问题无法处理";
    if (error.status === 503) return "服务暂不可用";
    if (error.status === 404) return "没有找到";
    return "出错了";
  }

  // ---------------------------------------------------------------- URLs and storage

  function articleUrl(articleId, range) {
    const path = ARTICLE_PATH + articleId.split("/").map(encodeURIComponent).join("/");
    return range ? `${path}?start=${range.start}&end=${range.end}` : path;
  }

  function questionUrl(question, issueId) {
    const params = new URLSearchParams();
    if (question) params.set("q", question);
    if (issueId) params.set("issue", issueId);
    const query = params.toString();
    return query ? `/?${query}` : "/";
  }

  function chatUrl() {
    const lastTurn = state.turns[state.turns.length - 1];
    return lastTurn ? questionUrl(lastTurn.question, lastTurn.issueId) : "/";
  }

  function parseRange(params) {
    const start = Number.parseInt(params.get("start"), 10);
    const end = Number.parseInt(params.get("end"), 10);
    if (Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end > start) return { start, end };
    return null;
  }

  function parseLocation() {
    const url = new URL(window.location.href);
    if (url.pathname.startsWith(ARTICLE_PATH)) {
      let articleId = url.pathname.slice(ARTICLE_PATH.length).replace(/\/+$/, "");
      try {
        articleId = decodeURIComponent(articleId);
      } catch (badEscape) {
        // keep the raw id; the API will answer 404 and the reader says so
      }
      return { view: "article", articleId, range: parseRange(url.searchParams) };
    }
    return { view: null, question: (url.searchParams.get("q") || "").trim(), issueId: url.searchParams.get("issue") };
  }

  function readStorage(key, fallback) {
    try {
      const raw = window.localStorage.getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (unavailable) {
      return fallback;
    }
  }

  function writeStorage(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, JSON.stringify(value));
    } catch (unavailable) {
      // private browsing or a full quota: the conversation just won't survive a reload
    }
  }

  /** Stores answered turns only: what is needed to render them again, not their DOM nodes. */
  function saveConversation() {
    const answered = state.turns
      .filter((turn) => turn.response)
      .slice(-MAX_STORED_TURNS)
      .map((turn) => ({ question: turn.question, issueId: turn.issueId, issueLabel: turn.issueLabel, response: turn.response }));
    writeStorage(CONVERSATION_KEY, answered.length ? answered : null);
  }

  function loadConversation() {
    const stored = readStorage(CONVERSATION_KEY, []);
    if (!Array.isArray(stored)) return [];
    return stored.filter((turn) => turn && typeof turn.question === "string" && turn.response && typeof turn.response === "object");
  }

  // ---------------------------------------------------------------- answers

  function confidenceLevel(confidence) {
    const value = Number(confidence) || 0;
    if (value >= 0.66) return { key: "high", label: "把握较高" };
    if (value >= 0.4) return { key: "medium", label: "把握一般" };
    return { key: "low", label: "把握较低，建议核对原文" };
  }

  function citationLabel(citation) {
    return `${citation.issue.label} · ${citation.article.title}`;
  }

  /** One chip per article: passages from the same article are shown together when it expands. */
  function groupByArticle(citations) {
    const groups = new Map();
    for (const citation of citations) {
      if (!citation || !citation.article || !citation.issue) continue;
      const key = citation.article.id;
      if (!groups.has(key)) groups.set(key, { issue: citation.issue, article: citation.article, passages: [] });
      const group = groups.get(key);
      if (!group.passages.some((passage) => passage.start === citation.start && passage.end === citation.end)) {
        group.passages.push(citation);
      }
    }
    return [...groups.values()];
  }

  function orderedCitations(response) {
    const citations = Array.isArray(response.citations) ? response.citations.slice() : [];
    const primary = response.answer && response.answer.citation;
    if (primary) citations.unshift(primary);
    return citations;
  }

  function renderQuotedAnswer(answer) {
    const text = String(answer.text || "");
    const quote = el("blockquote", { className: "answer-text" });
    const highlight = answer.highlight;
    let from = highlight ? highlight.start - answer.start : 0;
    let to = highlight ? highlight.end - answer.start : text.length;
    from = Math.max(0, Math.min(text.length, Number(from) || 0));
    to = Math.max(from, Math.min(text.length, Number(to) || 0));
    if (to > from) {
      quote.append(text.slice(0, from), el("mark", { text: text.slice(from, to) }), text.slice(to));
    } else {
      quote.append(text);
    }
    return quote;
  }

  function articleLink(label, articleId, range, className) {
    return el("a", {
      className,
      text: label,
      attrs: { href: articleUrl(articleId, range), "data-article-id": articleId },
      on: {
        click(event) {
          if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
          event.preventDefault();
          openArticle(articleId, range, { returnFocus: event.currentTarget });
        },
      },
    });
  }

  function renderPassage(group, passageId) {
    const box = el("div", { className: "passage", attrs: { id: passageId, role: "region", "aria-label": `摘录：${group.article.title}` } });
    box.hidden = true;
    box.append(el("p", { className: "passage-meta", text: `${BULLETIN_NAME}${group.issue.label} · ${group.article.title}` }));
    for (const passage of group.passages) {
      box.append(el("div", { className: "passage-item" }, [
        el("p", { className: "passage-text", text: passage.passage }),
        articleLink("查看原文", group.article.id, { start: passage.start, end: passage.end }, "action-button action-button-small"),
      ]));
    }
    return box;
  }

  function renderCitationChips(citations, heading) {
    const groups = groupByArticle(citations);
    if (!groups.length) return null;
    const section = el("div", { className: "citations" });
    const headingId = uniqueId("citations");
    section.append(el("p", { className: "section-label", text: heading, attrs: { id: headingId } }));
    const list = el("ul", { className: "citation-list", attrs: { "aria-labelledby": headingId } });
    const passages = el("div", { className: "citation-passages" });
    groups.forEach((group, index) => {
      const passageId = uniqueId("passage");
      const passage = renderPassage(group, passageId);
      const chip = el("button", {
        className: "citation-chip",
        attrs: { type: "button", "aria-expanded": "false", "aria-controls": passageId, title: "展开摘录" },
        on: {
          click() {
            const expanded = chip.getAttribute("aria-expanded") === "true";
            chip.setAttribute("aria-expanded", String(!expanded));
            passage.hidden = expanded;
          },
        },
      }, [
        el("span", { className: "citation-index", text: index + 1, attrs: { "aria-hidden": "true" } }),
        el("span", { className: "citation-label" }, [
          el("span", { className: "citation-issue", text: group.issue.label }),
          " · ",
          el("span", { className: "citation-title", text: group.article.title }),
        ]),
        el("span", { className: "citation-caret", attrs: { "aria-hidden": "true" } }),
      ]);
      list.append(el("li", {}, [chip]));
      passages.append(passage);
    });
    section.append(list, passages);
    return section;
  }

  function copyFeedbackText(answer) {
    const citation = answer.citation;
    const source = citation ? `\n出处：${BULLETIN_NAME}${citationLabel(citation)}` : "";
    return `答案：${answer.text}${source}`;
  }

  async function copyToClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (denied) {
        // fall through to the selection-based copy
      }
    }
    const helper = el("textarea", { className: "clipboard-helper", attrs: { readonly: "", "aria-hidden": "true" } });
    helper.value = text;
    document.body.append(helper);
    helper.select();
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (unsupported) {
      copied = false;
    }
    helper.remove();
    return copied;
  }

  function renderCopyButton(answer) {
    const feedback = el("span", { className: "copy-feedback", attrs: { role: "status" } });
    const button = el("button", {
      className: "action-button",
      text: "复制",
      attrs: { type: "button", title: "复制答案和出处" },
      on: {
        async click() {
          const copied = await copyToClipboard(copyFeedbackText(answer));
          button.textContent = copied ? "已复制" : "复制失败";
          button.classList.toggle("is-done", copied);
          feedback.textContent = copied ? "" : "浏览器不允许访问剪贴板，请手动选中答案复制。";
          window.setTimeout(() => {
            button.textContent = "复制";
            button.classList.remove("is-done");
          }, 2000);
        },
      },
    });
    return [button, feedback];
  }

  function renderAnswer(turn) {
    const { answer } = turn.response;
    const level = confidenceLevel(answer.confidence);
    const bubble = el("div", { className: "bubble bubble-bot answer" });
    const header = el("div", { className: "answer-header" }, [
      el("span", { className: "answer-source-label", text: `摘自${BULLETIN_NAME}` }),
      el("span", {
        className: `confidence confidence-${level.key}`,
        attrs: { title: `相关度 ${(Number(answer.confidence) || 0).toFixed(2)}` },
      }, [dots(3, "confidence-dots"), level.label]),
      turn.issueId ? el("span", { className: "scope-tag", text: `仅检索 ${turn.issueLabel || turn.issueId}` }) : null,
    ]);
    bubble.append(header, renderQuotedAnswer(answer));
    const chips = renderCitationChips(orderedCitations(turn.response), "出处");
    if (chips) bubble.append(chips);
    const actions = el("div", { className: "answer-actions" });
    if (answer.citation) {
      actions.append(articleLink("查看原文", answer.citation.article.id, { start: answer.start, end: answer.end },
        "action-button action-button-primary open-answer-article"));
    }
    actions.append(...renderCopyButton(answer));
    bubble.append(actions);
    return bubble;
  }

  function renderNotFound(turn) {
    const response = turn.response;
    const bubble = el("div", { className: "bubble bubble-bot not-found" }, [
      el("p", { className: "not-found-title", text: "简报中没有找到相关内容" }),
    ]);
    const message = String(response.message || "").trim();
    if (message && message !== "简报中没有找到相关内容") bubble.append(el("p", { className: "not-found-text", text: message }));
    if (turn.issueId) bubble.append(el("p", { className: "not-found-text", text: `本次仅检索了 ${turn.issueLabel || turn.issueId}，可以在上方改为“全部期次”再试。` }));
    const chips = renderCitationChips(orderedCitations(response), "最接近的文章");
    bubble.append(chips || el("p", { className: "not-found-text", text: "可以换个说法，或打开“期刊目录”浏览全部文章。" }));
    return bubble;
  }

  function renderError(turn) {
    return el("div", { className: "bubble bubble-bot bubble-error", attrs: { role: "alert" } }, [
      el("p", { className: "error-title", text: turn.error.title }),
      el("p", { className: "error-text", text: turn.error.message }),
      el("div", { className: "answer-actions" }, [
        el("button", {
          className: "action-button",
          text: "重试",
          attrs: { type: "button" },
          on: { click: () => retry(turn) },
        }),
      ]),
    ]);
  }

  function renderTyping() {
    return el("div", { className: "bubble bubble-bot" }, [
      el("span", { className: "typing" }, [dots(3, "typing-dots"), "正在检索简报…"]),
    ]);
  }

  function turnState(turn) {
    if (turn.error) return "error";
    if (!turn.response) return "pending";
    return turn.response.found && turn.response.answer ? "answered" : "not-found";
  }

  function renderBotMessage(turn) {
    const render = { error: renderError, pending: renderTyping, answered: renderAnswer, "not-found": renderNotFound };
    const status = turnState(turn);
    const bubble = render[status](turn);
    return el("div", { className: "message message-bot", attrs: { "data-state": status } }, [
      el("span", { className: "avatar", text: "答", attrs: { "aria-hidden": "true" } }),
      bubble,
    ]);
  }

  function renderTurn(turn) {
    const node = el("article", { className: "turn", attrs: { "data-turn": turn.id, "aria-label": `问题：${turn.question}` } }, [
      el("div", { className: "message message-user" }, [
        el("p", { className: "bubble bubble-user", text: turn.question }),
      ]),
      renderBotMessage(turn),
    ]);
    turn.node = node;
    return node;
  }

  function refreshTurn(turn) {
    const fresh = renderBotMessage(turn);
    turn.node.querySelector(".message-bot").replaceWith(fresh);
    return fresh;
  }

  // ---------------------------------------------------------------- conversation

  function updateChrome() {
    const empty = state.turns.length === 0;
    ui.welcome.hidden = !empty;
    ui.clearButton.disabled = empty;
    ui.sendButton.disabled = state.busy;
    ui.sendButton.setAttribute("aria-busy", String(state.busy));
    ui.chat.setAttribute("aria-busy", String(state.busy));
  }

  function scrollToBottom() {
    ui.scroller.scrollTop = ui.scroller.scrollHeight;
  }

  function conversationHistory() {
    return state.turns
      .filter((turn) => turn.response)
      .slice(-HISTORY_TURNS)
      .map((turn) => ({ question: turn.question, answer: turn.response.answer ? turn.response.answer.text : null }));
  }

  function setQuestionUrl(question, issueId) {
    if (state.reader.view) return; // the reader owns the URL while it is open
    window.history.replaceState(window.history.state, "", questionUrl(question, issueId));
  }

  async function ask(rawQuestion) {
    const question = String(rawQuestion || "").trim();
    if (!question || state.busy) return false;
    const generation = state.generation;
    const turn = {
      id: uniqueId("turn"),
      question,
      issueId: state.issueId,
      issueLabel: issueLabel(state.issueId),
      response: null,
      error: null,
    };
    const history = conversationHistory();
    state.turns.push(turn);
    ui.conversation.append(renderTurn(turn));
    state.busy = true;
    updateChrome();
    scrollToBottom();
    setQuestionUrl(question, turn.issueId);
    try {
      turn.response = await postQuestion(question, turn.issueId, history);
    } catch (error) {
      turn.error = error instanceof ApiError
        ? { title: errorTitle(error), message: error.message }
        : { title: "出错了", message: "页面处理回答时出错，请重试。" };
    }
    if (generation !== state.generation) return false; // cleared meanwhile; clearing already reset `busy`
    state.busy = false;
    refreshTurn(turn);
    saveConversation();
    updateChrome();
    turn.node.scrollIntoView({ block: "start", behavior: "smooth" });
    return true;
  }

  function retry(turn) {
    if (state.busy) return;
    state.turns = state.turns.filter((candidate) => candidate !== turn);
    turn.node.remove();
    ask(turn.question);
  }

  function clearConversation() {
    state.generation += 1;
    state.turns = [];
    state.busy = false;
    ui.conversation.replaceChildren();
    saveConversation();
    updateChrome();
    setQuestionUrl("", null);
    ui.question.focus();
  }

  function restoreConversation() {
    state.turns = loadConversation().map((stored) => ({
      id: uniqueId("turn"),
      question: stored.question,
      issueId: stored.issueId || null,
      issueLabel: stored.issueLabel || null,
      response: stored.response,
      error: null,
    }));
    // Rendered during start-up, before a screen reader follows the live region, so old answers are not read out.
    ui.conversation.append(...state.turns.map(renderTurn));
    updateChrome();
    scrollToBottom();
  }

  // ---------------------------------------------------------------- composer

  function fitPlaceholder() {
    if (!ui.question.dataset.longPlaceholder) ui.question.dataset.longPlaceholder = ui.question.placeholder;
    ui.question.placeholder = phoneScreen.matches ? "输入您的问题…" : ui.question.dataset.longPlaceholder;
  }

  function resizeComposer() {
    ui.question.style.height = "auto";
    ui.question.style.height = `${Math.min(ui.question.scrollHeight, 180)}px`;
  }

  async function submitComposer() {
    const question = ui.question.value.trim();
    if (!question || state.busy) {
      ui.question.focus();
      return;
    }
    ui.question.value = "";
    resizeComposer();
    await ask(question);
  }

  function onComposerKeydown(event) {
    if (event.key !== "Enter" || event.shiftKey) return;
    // Enter that confirms an IME candidate (拼音 input) must not send the half-typed question.
    if (event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    submitComposer();
  }

  // ---------------------------------------------------------------- issue filter

  function issueLabel(issueId) {
    if (!issueId) return null;
    const issue = (state.issues || []).find((candidate) => candidate.id === issueId);
    return issue ? issue.label : issueId;
  }

  function setIssue(issueId) {
    state.issueId = issueId || null;
    writeStorage(ISSUE_KEY, state.issueId);
    ui.issueFilter.value = state.issueId || "";
    ui.scopeHint.textContent = state.issueId ? `仅检索 ${issueLabel(state.issueId)}` : "检索全部期次";
  }

  function fillIssueFilter(issues) {
    const options = issues.map((issue) => el("option", { text: issue.label, attrs: { value: issue.id } }));
    ui.issueFilter.replaceChildren(el("option", { text: "全部期次", attrs: { value: "" } }), ...options);
    const known = issues.some((issue) => issue.id === state.issueId);
    setIssue(known ? state.issueId : null);
  }

  // ---------------------------------------------------------------- reader panel

  function showReader() {
    const opening = ui.reader.hidden;
    ui.reader.hidden = false;
    ui.workspace.classList.add("reader-open");
    syncModalReader();
    return opening;
  }

  /** On a phone the reader covers the page, so the page behind it leaves the tab order. */
  function syncModalReader() {
    const modal = !ui.reader.hidden && narrowScreen.matches;
    ui.chat.inert = modal;
    ui.topbar.inert = modal;
  }

  function rememberReaderEntry(url, view, opening) {
    const entry = { view };
    if (opening && !state.reader.view) {
      window.history.pushState(entry, "", url);
      state.reader.pushed = true;
    } else {
      window.history.replaceState(entry, "", url);
    }
  }

  function setReaderHeading(kicker, title) {
    ui.readerKicker.textContent = kicker || "";
    ui.readerTitle.textContent = title;
  }

  function readerStatus(text, isError) {
    return el("p", { className: `reader-status${isError ? " is-error" : ""}`, text, attrs: { role: isError ? "alert" : "status" } });
  }

  function renderArticleText(text, range) {
    const container = el("div", { className: "article-text" });
    let firstMark = null;
    let offset = 0;
    for (const paragraph of String(text).split("\n")) {
      const paragraphStart = offset;
      const paragraphEnd = offset + paragraph.length;
      offset = paragraphEnd + 1;
      if (!paragraph.trim()) continue;
      const node = el("p");
      if (range && range.start < paragraphEnd && range.end > paragraphStart) {
        const from = Math.max(range.start, paragraphStart) - paragraphStart;
        const to = Math.min(range.end, paragraphEnd) - paragraphStart;
        const mark = el("mark", { text: paragraph.slice(from, to) });
        if (!firstMark) {
          firstMark = mark;
          mark.classList.add("is-first");
        }
        node.append(paragraph.slice(0, from), mark, paragraph.slice(to));
      } else {
        node.append(paragraph);
      }
      container.append(node);
    }
    return { container, firstMark };
  }

  async function openArticle(articleId, range, options = {}) {
    const opening = showReader();
    if (opening) state.reader.returnFocus = options.returnFocus || document.activeElement;
    if (!options.fromHistory) rememberReaderEntry(articleUrl(articleId, range), "article", opening);
    state.reader.view = "article";
    const token = ++state.reader.token;
    ui.readerBack.hidden = !options.fromCatalogue;
    setReaderHeading("", "正在打开原文…");
    ui.readerBody.replaceChildren(readerStatus("正在加载文章…"));
    ui.readerTitle.focus({ preventScroll: true });
    let article;
    try {
      article = await fetchArticle(articleId);
    } catch (error) {
      if (token !== state.reader.token) return;
      setReaderHeading("", "无法打开原文");
      ui.readerBody.replaceChildren(readerStatus(error.status === 404 ? "没有找到这篇文章，它可能已从索引中移除。" : error.message, true));
      return;
    }
    if (token !== state.reader.token) return;
    const issue = article.issue || {};
    setReaderHeading(`${BULLETIN_NAME}${issue.label || ""} · 第 ${article.ordinal} 篇`, article.title);
    const { container, firstMark } = renderArticleText(article.text || "", range);
    const nodes = [];
    if (range && !firstMark) nodes.push(el("p", { className: "reader-note", text: "引用位置不在本文范围内，已显示全文。" }));
    if (firstMark) nodes.push(el("p", { className: "reader-note", text: "黄色标记为答案引用的原文。" }));
    nodes.push(container);
    ui.readerBody.replaceChildren(...nodes);
    ui.readerBody.scrollTop = 0;
    if (firstMark) firstMark.scrollIntoView({ block: "center" });
  }

  function renderCatalogue(issues) {
    const total = issues.reduce((sum, issue) => sum + (issue.articles || []).length, 0);
    setReaderHeading(`共 ${issues.length} 期 · ${total} 篇文章`, "期刊目录");
    if (!issues.length) {
      ui.readerBody.replaceChildren(readerStatus("还没有收录任何简报。"));
      return;
    }
    const newestFirst = issues.slice().sort((a, b) => String(b.id).localeCompare(String(a.id)));
    ui.readerBody.replaceChildren(...newestFirst.map((issue) => {
      const articles = (issue.articles || []).slice().sort((a, b) => a.ordinal - b.ordinal);
      return el("section", { className: "catalogue-issue" }, [
        el("h3", { className: "catalogue-issue-title" }, [
          el("span", { text: `${BULLETIN_NAME}${issue.label}` }),
          el("span", { className: "catalogue-count", text: `${articles.length} 篇` }),
        ]),
        el("ul", { className: "catalogue-articles" }, articles.map((article) => el("li", {}, [
          el("button", {
            className: "catalogue-article",
            attrs: { type: "button", "data-article-id": article.id },
            on: { click: () => openArticle(article.id, null, { fromCatalogue: true }) },
          }, [
            el("span", { className: "catalogue-ordinal", text: String(article.ordinal).padStart(2, "0"), attrs: { "aria-hidden": "true" } }),
            el("span", { className: "catalogue-title", text: article.title }),
          ]),
        ]))),
      ]);
    }));
  }

  async function openCatalogue(options = {}) {
    const opening = showReader();
    if (opening) state.reader.returnFocus = options.returnFocus || document.activeElement;
    if (!options.fromHistory) rememberReaderEntry(window.location.pathname.startsWith(ARTICLE_PATH) ? chatUrl() : window.location.href, "catalogue", opening);
    state.reader.view = "catalogue";
    const token = ++state.reader.token;
    ui.readerBack.hidden = true;
    ui.catalogueButton.setAttribute("aria-pressed", "true");
    setReaderHeading("", "期刊目录");
    ui.readerBody.replaceChildren(readerStatus("正在加载目录…"));
    ui.readerTitle.focus({ preventScroll: true });
    try {
      const issues = await loadIssues();
      if (token === state.reader.token) renderCatalogue(issues);
    } catch (error) {
      if (token === state.reader.token) ui.readerBody.replaceChildren(readerStatus(`目录加载失败：${error.message}`, true));
    }
  }

  /** Hides the panel; `fromHistory` means the browser already moved back to the chat entry. */
  function hideReader(fromHistory) {
    if (ui.reader.hidden) return;
    state.reader.token += 1;
    state.reader.view = null;
    ui.reader.hidden = true;
    ui.workspace.classList.remove("reader-open");
    ui.catalogueButton.setAttribute("aria-pressed", "false");
    syncModalReader();
    if (!fromHistory) window.history.replaceState(null, "", chatUrl());
    const target = state.reader.returnFocus;
    state.reader.returnFocus = null;
    if (target && target.isConnected && !target.closest("[hidden]")) target.focus({ preventScroll: true });
    else ui.question.focus({ preventScroll: true });
  }

  function closeReader() {
    if (ui.reader.hidden) return;
    if (state.reader.pushed) {
      // Undo our own history entry so the phone's back button and the close button agree.
      state.reader.pushed = false;
      hideReader(false);
      window.history.back();
      return;
    }
    hideReader(false);
  }

  function onPopState() {
    const place = parseLocation();
    const view = window.history.state && window.history.state.view;
    if (place.view === "article") {
      openArticle(place.articleId, place.range, { fromHistory: true });
    } else if (view === "catalogue") {
      openCatalogue({ fromHistory: true });
    } else {
      state.reader.pushed = false;
      hideReader(true);
    }
  }

  // ---------------------------------------------------------------- start-up

  function bindEvents() {
    ui.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      submitComposer();
    });
    ui.question.addEventListener("keydown", onComposerKeydown);
    ui.question.addEventListener("input", resizeComposer);
    for (const chip of document.querySelectorAll(".example-chip")) {
      chip.addEventListener("click", () => ask(chip.textContent));
    }
    ui.issueFilter.addEventListener("change", () => setIssue(ui.issueFilter.value));
    ui.clearButton.addEventListener("click", clearConversation);
    ui.catalogueButton.addEventListener("click", (event) => {
      if (state.reader.view === "catalogue") closeReader();
      else openCatalogue({ returnFocus: event.currentTarget });
    });
    ui.readerClose.addEventListener("click", closeReader);
    ui.readerBack.addEventListener("click", () => openCatalogue());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.isComposing && !ui.reader.hidden) {
        event.preventDefault();
        closeReader();
      }
    });
    window.addEventListener("popstate", onPopState);
    narrowScreen.addEventListener("change", syncModalReader);
    phoneScreen.addEventListener("change", fitPlaceholder);
  }

  function start() {
    bindEvents();
    fitPlaceholder();
    const place = parseLocation();
    state.issueId = place.issueId || readStorage(ISSUE_KEY, null);
    setIssue(state.issueId);
    loadIssues().then(fillIssueFilter).catch(() => {
      ui.scopeHint.textContent = "期次列表暂不可用，检索全部期次";
    });
    restoreConversation();
    if (place.view === "article") {
      openArticle(place.articleId, place.range, { fromHistory: true });
      return;
    }
    const lastTurn = state.turns[state.turns.length - 1];
    if (place.question && !(lastTurn && lastTurn.question === place.question)) ask(place.question);
    else if (!narrowScreen.matches) ui.question.focus({ preventScroll: true });
  }

  start();
})();
