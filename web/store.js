// The page's state in memory, and what survives a reload in localStorage: answered turns and the chosen issue.

const CONVERSATION_KEY = "bulletin-qa.conversation.v1";
const ISSUE_KEY = "bulletin-qa.issue.v1";
const MAX_STORED_TURNS = 40;

export const state = {
  turns: [],
  busy: false,
  generation: 0, // bumped by “清空对话” so a late answer to a cleared question is dropped
  issueId: null,
  reader: { view: null, pushed: false, returnFocus: null, token: 0 },
};

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
export function saveConversation() {
  const answered = state.turns
    .filter((turn) => turn.response)
    .slice(-MAX_STORED_TURNS)
    .map((turn) => ({
      question: turn.question,
      issueId: turn.issueId,
      issueLabel: turn.issueLabel,
      response: turn.response,
      feedback: turn.feedback || null,
    }));
  writeStorage(CONVERSATION_KEY, answered.length ? answered : null);
}

export function loadConversation() {
  const stored = readStorage(CONVERSATION_KEY, []);
  if (!Array.isArray(stored)) return [];
  return stored.filter((turn) => turn && typeof turn.question === "string" && turn.response && typeof turn.response === "object");
}

export function saveIssueScope(issueId) {
  writeStorage(ISSUE_KEY, issueId);
}

export function loadIssueScope() {
  return readStorage(ISSUE_KEY, null);
}

