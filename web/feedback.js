// Feedback under an answer: 有用 / 不对, and for 不对 an optional short correction. Sent to
// /api/feedback with what was shown (answer, citation, confidence, build), remembered with the turn.

import { postFeedback } from "./api.js";
import { el } from "./dom.js";
import { saveConversation } from "./store.js";

const NOTE_LIMIT = 500;

function feedbackBody(turn, verdict, note) {
  const response = turn.response;
  const answer = response.answer;
  const body = {
    verdict,
    question: turn.question,
    resolved_question: response.resolved_question || null,
    answer: answer ? answer.text : null,
    confidence: answer ? answer.confidence : null,
    build_id: response.build_id || null,
  };
  if (answer && answer.citation) Object.assign(body, { article_id: answer.citation.article.id, start: answer.start, end: answer.end });
  if (note) body.note = note;
  return body;
}

function thanks(verdict) {
  return el("p", { className: "feedback-done", attrs: { role: "status" }, text: verdict === "useful" ? "谢谢，已记下：这个回答有用。" : "谢谢，已记下您的更正，我们会据此改进。" });
}

export function renderFeedback(turn) {
  const box = el("div", { className: "feedback" });
  if (turn.feedback) {
    box.append(thanks(turn.feedback));
    return box;
  }
  const status = el("p", { className: "feedback-status", attrs: { role: "status" } });
  const note = el("textarea", {
    className: "feedback-note",
    attrs: { rows: "2", maxlength: String(NOTE_LIMIT), placeholder: "正确答案是……（可不填）", "aria-label": "正确答案（可不填）" },
  });
  const form = el("form", { className: "feedback-form" });
  form.hidden = true;

  async function send(verdict, noteText, buttons) {
    buttons.forEach((button) => { button.disabled = true; });
    status.textContent = "正在提交…";
    try {
      await postFeedback(feedbackBody(turn, verdict, noteText));
    } catch (error) {
      status.textContent = `没有提交成功：${error.message}`;
      buttons.forEach((button) => { button.disabled = false; });
      return;
    }
    turn.feedback = verdict;
    saveConversation();
    box.replaceChildren(thanks(verdict));
  }

  const useful = el("button", { className: "feedback-button", text: "有用", attrs: { type: "button", "aria-pressed": "false" } });
  const wrong = el("button", { className: "feedback-button", text: "不对", attrs: { type: "button", "aria-expanded": "false" } });
  const submit = el("button", { className: "action-button action-button-small action-button-primary", text: "提交", attrs: { type: "submit" } });
  const cancel = el("button", { className: "action-button action-button-small", text: "取消", attrs: { type: "button" } });
  useful.addEventListener("click", () => send("useful", null, [useful, wrong]));
  wrong.addEventListener("click", () => {
    form.hidden = false;
    wrong.setAttribute("aria-expanded", "true");
    note.focus();
  });
  cancel.addEventListener("click", () => {
    form.hidden = true;
    wrong.setAttribute("aria-expanded", "false");
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send("wrong", note.value.trim() || null, [useful, wrong, submit]);
  });
  form.append(note, el("div", { className: "feedback-form-actions" }, [submit, cancel]));
  box.append(
    el("div", { className: "feedback-row" }, [el("span", { className: "feedback-question", text: "这个回答对您有帮助吗？" }), useful, wrong]),
    form,
    status,
  );
  return box;
}
