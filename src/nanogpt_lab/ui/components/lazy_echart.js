// ui.echart's own component, imported when the first chart renders rather than before the page mounts (see
// lazy_echart.py). Vue hands the chart's ref to the inner component, so getElement(id).chart works as with ui.echart.
import { defineAsyncComponent, h } from "vue";

// Until ECharts has loaded: an empty box with the chart's size classes, but not `nicegui-echart` (it has no .chart).
const placeholder = {
  inheritAttrs: false,
  render() {
    const classes = String(this.$attrs.class ?? "").replace("nicegui-echart", "");
    return h("div", { class: classes, style: this.$attrs.style });
  },
};

export default defineAsyncComponent({
  loader: () => import("lab-echart").then((module) => module.default),
  loadingComponent: placeholder,
  delay: 0,
});
