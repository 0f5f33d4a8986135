// /api/docs: renders /openapi.json with the vendored Redoc (web/vendor/redoc, MIT licence).
// Search is off: it would need a blob: web worker, which the page's CSP does not allow.

const THEME = {
  colors: { primary: { main: "#1d4f73" }, text: { primary: "#1c2733" } },
  typography: {
    fontSize: "15px",
    lineHeight: "1.7",
    fontFamily: '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", system-ui, sans-serif',
    headings: { fontFamily: '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", system-ui, sans-serif', fontWeight: "700" },
    code: { fontSize: "13px", fontFamily: '"SFMono-Regular", Consolas, "Liberation Mono", "Noto Sans Mono CJK SC", monospace', wrap: true },
  },
  sidebar: { width: "240px", backgroundColor: "#f3f5f8" },
  rightPanel: { backgroundColor: "#17324a", width: "40%" },
};

const OPTIONS = {
  disableSearch: true,
  hideDownloadButton: false,
  expandResponses: "200,201,202",
  jsonSampleExpandLevel: 3,
  pathInMiddlePanel: true,
  requiredPropsFirst: true,
  sortPropsAlphabetically: false,
  nativeScrollbars: true,
  hideHostname: true,
  theme: THEME,
};

function start() {
  const container = document.getElementById("redoc");
  if (!window.Redoc) {
    container.querySelector(".docs-loading").textContent = "接口文档的脚本没有加载成功；机器可读的描述见 /openapi.json。";
    return;
  }
  window.Redoc.init("/openapi.json", OPTIONS, container, () => document.body.classList.add("docs-ready"));
}

start();
