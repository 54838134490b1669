// A form that sends once: its button is disabled while the work runs.

import { showError } from "./api.js";
import { h } from "./page.js";

/**
 * A `.beian-form` whose `submit()` runs with `button` disabled, so a second press cannot
 * send it twice. With a `message` area, `pending` (or nothing) is shown there meanwhile, and
 * what fails is shown there by `failed(error)`: by default the error with its advice. Other
 * keys are the form's attributes.
 */
export function submitForm({ button, submit, message = null, pending = null, failed = (error) => showError(message, error), ...attributes }, ...children) {
  return h(
    "form",
    {
      class: "beian-form",
      ...attributes,
      onsubmit: async (event) => {
        event.preventDefault();
        button.disabled = true;
        message?.replaceChildren(...(pending ? [pending] : []));
        try {
          await submit();
        } catch (error) {
          if (!message) throw error;
          failed(error);
        } finally {
          button.disabled = false;
        }
      },
    },
    ...children,
  );
}
