// The team pages (web/templates/web/team/): confirm before revoking a credential or removing a
// member, and copy a new secret to the clipboard. No inline handlers: the CSP forbids them.

function confirmForms(root) {
  for (const form of root.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

function copyButtons(root) {
  for (const button of root.querySelectorAll("button[data-copy]")) {
    const source = root.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) {
      button.hidden = true; // no clipboard outside a secure context: the secret is there to select
      continue;
    }
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = "Copied";
      } catch {
        button.textContent = "Select and copy by hand";
      }
    });
  }
}

confirmForms(document);
copyButtons(document);
