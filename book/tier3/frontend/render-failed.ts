// render.ts once the backend added the `failed` reply state: the same function with the one case tsc asked for.
// What the user sees for each reply of POST /extract. Every type here comes from api.ts, which
// openapi-typescript generates from the backend's OpenAPI schema; the `never` in the default branch makes a
// reply state that no case handles a type error.
import type { components, paths } from "./api-failed";

type Reply = paths["/extract"]["post"]["responses"][200]["content"]["application/json"];
type Unreadable = components["schemas"]["UnreadableReply"]["reason"];

const reasons: Record<Unreadable, string> = {
  too_long: "This reference is too long to read in one go.",
  refused: "This text cannot be processed.",
  malformed: "The reference could not be read; please check it.",
};

export function render(reply: Reply): string {
  switch (reply.status) {
    case "ok":
      return `Added: ${reply.title} (${reply.year})`;
    case "retry":
      return `Busy; trying again in ${Math.ceil(reply.after_seconds)} s.`;
    case "unreadable":
      return reasons[reply.reason];
    case "failed":
      return reply.message;
    default: {
      const unhandled: never = reply;
      throw new Error(`unknown reply: ${JSON.stringify(unhandled)}`);
    }
  }
}
