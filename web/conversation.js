// Asking: the turns of the conversation, the composer, and the issue filter that scopes each question.

import { ApiError, errorTitle, issuesOutdatedBy, loadIssues, loadedIssues, postQuestion } from "./api.js";
import { archiveCoverage } from "./answer-parts.js";
import { refreshTurn, renderTurn } from "./chat.js";
import { el, phoneScreen, ui, uniqueId } from "./dom.js";
import { questionAsRead, setQuestionUrl } from "./links.js";
import { loadConversation, saveConversation, saveIssueScope, state } from "./store.js";

const HISTORY_TURNS = 3;

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

export async function ask(rawQuestion) {
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
  ui.conversation.append(renderTurn(turn, retry));
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
  if (turn.response) setQuestionUrl(questionAsRead(turn), turn.issueId);
  if (turn.response && issuesOutdatedBy(turn.response.build_id)) loadIssues().then(fillIssueFilter).catch(() => {});
  refreshTurn(turn, retry);
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

export function clearConversation() {
  state.generation += 1;
  state.turns = [];
  state.busy = false;
  ui.conversation.replaceChildren();
  saveConversation();
  updateChrome();
  setQuestionUrl("", null);
  ui.question.focus();
}

export function restoreConversation() {
  state.turns = loadConversation().map((stored) => ({
    id: uniqueId("turn"),
    question: stored.question,
    issueId: stored.issueId || null,
    issueLabel: stored.issueLabel || null,
    response: stored.response,
    feedback: stored.feedback || null,
    error: null,
  }));
  // Rendered during start-up, before a screen reader follows the live region, so old answers are not read out.
  ui.conversation.append(...state.turns.map((turn) => renderTurn(turn, retry)));
  updateChrome();
  scrollToBottom();
}

// ---------------------------------------------------------------- composer

export function fitPlaceholder() {
  if (!ui.question.dataset.longPlaceholder) ui.question.dataset.longPlaceholder = ui.question.placeholder;
  ui.question.placeholder = phoneScreen.matches ? "输入您的问题…" : ui.question.dataset.longPlaceholder;
}

export function resizeComposer() {
  ui.question.style.height = "auto";
  ui.question.style.height = `${Math.min(ui.question.scrollHeight, 180)}px`;
}

export async function submitComposer() {
  const question = ui.question.value.trim();
  if (!question || state.busy) {
    ui.question.focus();
    return;
  }
  ui.question.value = "";
  resizeComposer();
  await ask(question);
}

export function onComposerKeydown(event) {
  if (event.key !== "Enter" || event.shiftKey) return;
  // Enter that confirms an IME candidate (拼音 input) must not send the half-typed question.
  if (event.isComposing || event.keyCode === 229) return;
  event.preventDefault();
  submitComposer();
}

// ---------------------------------------------------------------- issue filter

function issueLabel(issueId) {
  if (!issueId) return null;
  const issue = loadedIssues().find((candidate) => candidate.id === issueId);
  return issue ? issue.label : issueId;
}

export function setIssue(issueId) {
  state.issueId = issueId || null;
  saveIssueScope(state.issueId);
  ui.issueFilter.value = state.issueId || "";
  ui.scopeHint.textContent = state.issueId ? `仅检索 ${issueLabel(state.issueId)}` : "检索全部期次";
}

export function fillIssueFilter(issues) {
  ui.welcomeCoverage.textContent = archiveCoverage(issues);
  const options = issues.map((issue) => el("option", { text: issue.label, attrs: { value: issue.id } }));
  ui.issueFilter.replaceChildren(el("option", { text: "全部期次", attrs: { value: "" } }), ...options);
  const known = issues.some((issue) => issue.id === state.issueId);
  setIssue(known ? state.issueId : null);
}
