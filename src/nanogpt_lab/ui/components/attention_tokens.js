// The prompt's tokens as chips; hovering (or focusing) one tints every earlier token by how much attention the
// hovered token gives it in the chosen head, and lists its strongest targets. Runs in the browser: no round trip.
export default {
  template: `
    <div class="attention-tokens" style="font-family: ui-monospace, monospace; line-height: 1.9">
      <span
        v-for="(token, i) in tokens"
        :key="i"
        tabindex="0"
        :data-token="i"
        :style="chipStyle(i)"
        @mouseenter="focus = i"
        @focus="focus = i"
        @mouseleave="focus = null"
        @blur="focus = null"
      >{{ token }}</span>
      <div class="text-xs text-gray-600" style="min-height: 1.25rem" aria-live="polite">{{ caption }}</div>
    </div>
  `,
  props: {
    tokens: Array,
    weights: Array, // weights[i][j]: how much token i attends to token j (rows sum to 1, zero after i)
    hint: String,
    template: String, // '{token} attends to: {targets}'
  },
  data() {
    return { focus: null };
  },
  computed: {
    caption() {
      if (this.focus === null || !this.weights[this.focus]) return this.hint;
      const row = this.weights[this.focus];
      const top = row
        .map((w, j) => [w, j])
        .sort((a, b) => b[0] - a[0])
        .slice(0, 3)
        .map(([w, j]) => `${this.tokens[j]} ${w.toFixed(2)}`)
        .join(' · ');
      return this.template.replace('{token}', this.tokens[this.focus]).replace('{targets}', top);
    },
  },
  methods: {
    chipStyle(i) {
      const base = 'display:inline-block;border-radius:4px;padding:0 3px;margin:1px;cursor:help;';
      if (this.focus === null) return base + 'background:#f1f5f9;';
      if (i === this.focus) return base + 'background:#fff;outline:2px solid #4338ca;';
      const w = (this.weights[this.focus] || [])[i] || 0;
      return base + `background:rgba(67,56,202,${Math.min(1, w * 1.5).toFixed(3)});color:${w > 0.4 ? '#fff' : '#111827'};`;
    },
  },
};
