// TSX-free TypeScript test cases for rules/javascript/xss.yaml.
export function render(el: HTMLElement): void {
  const hash: string = window.location.hash;
  // ruleid: js-xss
  el.insertAdjacentHTML("beforeend", `<p>${hash}</p>`);
  // ok: js-xss
  el.insertAdjacentHTML("beforeend", "<p>static</p>");
}
