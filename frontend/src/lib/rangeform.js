// The range picker's form (web/templates/web/_range_picker.html): the custom start and end are
// sent only when "custom" is chosen (disabled inputs are not submitted), and "custom" itself is
// the absence of a range key, so the URL carries start and end instead.
export function initRangeForm(root = document) {
  const form = root.querySelector("[data-range-form]");
  if (!form) return;
  const fields = form.querySelectorAll("[data-custom-fields] input");
  const sync = () => {
    const custom = form.querySelector("input[name=range]:checked")?.value === "custom";
    fields.forEach((input) => { input.disabled = !custom; });
  };
  form.addEventListener("change", sync);
  form.addEventListener("submit", () => {
    const choice = form.querySelector("input[name=range]:checked");
    if (choice && choice.value === "custom") choice.disabled = true;
  });
  sync();
}
