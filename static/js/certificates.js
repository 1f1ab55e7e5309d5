// Copy a certificate's verification link to the clipboard (the learner's certificates page).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy-link");
  if (!button) return;
  const input = document.getElementById(button.dataset.target);
  if (!input) return;
  input.select();
  const done = () => { button.textContent = button.dataset.done; };
  if (navigator.clipboard) {
    navigator.clipboard.writeText(input.value).then(done, () => document.execCommand("copy") && done());
  } else if (document.execCommand("copy")) {
    done();
  }
});
