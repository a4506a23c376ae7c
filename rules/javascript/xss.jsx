// JSX test cases for rules/javascript/xss.yaml.
import DOMPurify from "dompurify";

export function Comment({ comment }) {
  // ruleid: js-react-dangerously-set-inner-html
  return <div dangerouslySetInnerHTML={{ __html: comment.body }} />;
}

export function SafeComment({ comment }) {
  // ok: js-react-dangerously-set-inner-html
  return <div dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(comment.body) }} />;
}

export function Logo() {
  // ok: js-react-dangerously-set-inner-html
  return <span dangerouslySetInnerHTML={{ __html: "<b>selfheal</b>" }} />;
}
