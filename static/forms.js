/* Candor's subscribe and manage forms: a group's box ticks every component
 * in the group with it, and shows "some" (indeterminate) when only some of
 * them are ticked. Without this script the forms still work: the server
 * counts a group as all of its components. */
(function () {
  "use strict";
  function wire(group) {
    var whole = group.querySelector("input[data-group]");
    var members = group.querySelectorAll("ul input[type=checkbox]");
    if (!whole || !members.length) return;
    function fromMembers() {
      var ticked = 0;
      for (var i = 0; i < members.length; i++) if (members[i].checked) ticked++;
      whole.checked = ticked === members.length;
      whole.indeterminate = ticked > 0 && ticked < members.length;
    }
    whole.addEventListener("change", function () {
      for (var i = 0; i < members.length; i++) members[i].checked = whole.checked;
      whole.indeterminate = false;
    });
    for (var i = 0; i < members.length; i++) members[i].addEventListener("change", fromMembers);
    fromMembers();
  }
  var groups = document.querySelectorAll("form.subscribe fieldset.group");
  for (var i = 0; i < groups.length; i++) wire(groups[i]);
})();
