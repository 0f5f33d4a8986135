// 科技情报参考 · 智能问答 — the page: asks /api/ask, renders quoted answers with citation chips,
// and opens cited articles in a reader panel. All corpus and question text enters the DOM as text nodes.
// This module wires events and starts the page. Native ES modules, no build step:
//   dom.js          elements, `el` (text-only node builder), media queries
//   store.js        in-memory state; conversation and issue scope in localStorage
//   api.js          fetch wrappers and error messages
//   links.js        deep links and the URL of the chat
//   chat.js         bubbles, quoted answers, citation chips, copy
//   conversation.js asking, composer, issue filter
//   reader.js       article reader with the quoted passage marked, catalogue, history

import { loadIssues } from "./api.js";
import {
  ask,
  clearConversation,
  fillIssueFilter,
  fitPlaceholder,
  onComposerKeydown,
  resizeComposer,
  restoreConversation,
  setIssue,
  submitComposer,
} from "./conversation.js";
import { narrowScreen, phoneScreen, ui } from "./dom.js";
import { parseLocation } from "./links.js";
import { closeReader, onPopState, openArticle, openCatalogue, syncModalReader } from "./reader.js";
import { loadIssueScope, state } from "./store.js";

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
  state.issueId = place.issueId || loadIssueScope();
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
