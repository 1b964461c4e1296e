// guestbook placeholder script (bench/lamp): a character counter on the message box.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector('textarea[name="message"]');
  if (!box) return;
  const count = document.createElement("small");
  box.after(count);
  const update = () => { count.textContent = `${[...box.value].length} / 2000`; };
  box.addEventListener("input", update);
  update();
});
