// Keyboard shortcuts for rating: a digit or A/B picks the matching radio button, unless the user is typing.
document.addEventListener("keydown", function (event) {
  var target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target && (target.tagName === "TEXTAREA" || target.tagName === "SELECT" ||
      (target.tagName === "INPUT" && target.type !== "radio"))) return;
  var key = event.key.toLowerCase();
  var radios = document.querySelectorAll('input[type=radio][data-key="' + key + '"]');
  if (radios.length) { radios[0].checked = true; radios[0].focus(); event.preventDefault(); }
});
