// Builds what it holds one paint after it is itself built (see deferred.py): requestAnimationFrame runs just
// before the next paint, and the timeout it sets runs after that paint.
export default {
  template: `<div><slot v-if="painted"></slot></div>`,
  data() {
    return { painted: false };
  },
  mounted() {
    requestAnimationFrame(() => setTimeout(() => (this.painted = true)));
  },
};
