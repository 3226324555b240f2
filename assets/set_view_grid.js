// Cell renderers of the set view's table (components/set_view.py): a picture or map thumbnail.
// Only PNG data addresses made by the server are shown; anything else shows nothing.
var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

dagcomponentfuncs.SetThumbnail = function (props) {
  var src = typeof props.value === "string" && props.value.indexOf("data:image/png;base64,") === 0 ? props.value : "";
  return src ? React.createElement("img", { src: src, width: 48, height: 48, alt: "" }) : null;
};
