// Deep links: the URL of an answer (/?q=…&issue=…) or of a cited passage (/articles/<id>?start=…&end=…).

import { state } from "./store.js";

export const ARTICLE_PATH = "/articles/";

export function articleUrl(articleId, range) {
  const path = ARTICLE_PATH + articleId.split("/").map(encodeURIComponent).join("/");
  return range ? `${path}?start=${range.start}&end=${range.end}` : path;
}

export function questionUrl(question, issueId) {
  const params = new URLSearchParams();
  if (question) params.set("q", question);
  if (issueId) params.set("issue", issueId);
  const query = params.toString();
  return query ? `/?${query}` : "/";
}

// A follow-up ('那宁夏呢？') means nothing on its own: a link carries the question as the server read it.
export function questionAsRead(turn) {
  const resolved = turn.response && String(turn.response.resolved_question || "").trim();
  return resolved || turn.question;
}

export function chatUrl() {
  const lastTurn = state.turns[state.turns.length - 1];
  return lastTurn ? questionUrl(questionAsRead(lastTurn), lastTurn.issueId) : "/";
}

function parseRange(params) {
  const start = Number.parseInt(params.get("start"), 10);
  const end = Number.parseInt(params.get("end"), 10);
  if (Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end > start) return { start, end };
  return null;
}

export function parseLocation() {
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

export function setQuestionUrl(question, issueId) {
  if (state.reader.view) return; // the reader owns the URL while it is open
  window.history.replaceState(window.history.state, "", questionUrl(question, issueId));
}
