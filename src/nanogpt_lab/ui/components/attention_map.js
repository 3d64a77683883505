// One head's attention pattern, drawn on a canvas (a prompt edit redraws thousands of cells at once), with the
// prompt's tokens as chips underneath. Hover a cell: its weight. Hover (or tab to) a token: its row lights up in the
// map, the tokens it attends to are tinted by their weight, and its strongest targets are listed. All in the
// browser: hovering never waits for the server.
export default {
  template: `
    <div class="attention-map" :data-drawn="drawn">
      <div style="position: relative">
        <canvas ref="canvas" role="img" :aria-label="summary" @mousemove="hover" @mouseleave="cell = null"></canvas>
        <div v-if="cell" class="text-xs" :style="tipStyle">{{ cellText }}</div>
      </div>
      <div class="text-xs text-gray-500" style="margin: 2px 0 6px">{{ scale }}</div>
      <div style="font-family: ui-monospace, monospace; line-height: 1.9">
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
      </div>
      <div class="text-xs text-gray-600" style="min-height: 1.25rem" aria-live="polite">{{ caption }}</div>
    </div>
  `,
  props: {
    tokens: Array,
    weights: Array, // weights[i][j]: how much token i attends to token j (rows sum to 1, zero after i)
    high: Number, // the weight drawn darkest (a few weights near 1 would wash the rest out)
    summary: String,
    hint: String,
    attends: String, // '{token} attends to: {targets}'
    cellTemplate: String, // '{query} → {key}: {weight}'
    scaleTemplate: String, // 'colour: 0 (white) to {high} or more (darkest)'
  },
  data() {
    return { focus: null, cell: null, drawn: 0 };
  },
  computed: {
    caption() {
      if (this.focus === null || !this.weights[this.focus]) return this.hint;
      const top = this.weights[this.focus]
        .map((w, j) => [w, j])
        .sort((a, b) => b[0] - a[0])
        .slice(0, 3)
        .map(([w, j]) => `${this.tokens[j]} ${w.toFixed(2)}`)
        .join(' · ');
      return this.attends.replace('{token}', this.tokens[this.focus]).replace('{targets}', top);
    },
    cellText() {
      const [i, j] = this.cell;
      return this.cellTemplate
        .replace('{query}', this.tokens[i])
        .replace('{key}', this.tokens[j])
        .replace('{weight}', this.weights[i][j].toFixed(3));
    },
    tipStyle() {
      const [i, j] = this.cell;
      const { x, y, size } = this.geometry();
      return `position:absolute;left:${x + (j + 1) * size + 6}px;top:${y + i * size - 4}px;background:#111827;` +
        'color:#fff;padding:2px 6px;border-radius:4px;pointer-events:none;white-space:nowrap';
    },
    scale() {
      return this.scaleTemplate.replace('{high}', (this.high || 1).toFixed(2));
    },
  },
  watch: {
    weights() {
      this.draw();
    },
    focus() {
      this.draw();
    },
  },
  mounted() {
    this.resizer = new ResizeObserver(() => this.draw());
    this.resizer.observe(this.$el);
    this.draw();
  },
  unmounted() {
    this.resizer?.disconnect();
  },
  methods: {
    geometry() {
      const n = this.tokens.length || 1;
      const label = 18; // room for one token label on each axis
      const width = Math.max(160, this.$el ? this.$el.clientWidth : 400);
      const size = Math.max(4, Math.min(16, Math.floor((width - label - 4) / n)));
      return { x: label, y: label, size, n, width: label + n * size + 2, height: label + n * size + 2 };
    },
    color(w) {
      const t = Math.max(0, Math.min(1, w / (this.high || 1)));
      const mix = (a, b) => Math.round(a + (b - a) * t);
      return `rgb(${mix(248, 67)},${mix(250, 56)},${mix(252, 202)})`; // #f8fafc → indigo #4338ca
    },
    draw() {
      const canvas = this.$refs.canvas;
      if (!canvas) return;
      const { x, y, size, n, width, height } = this.geometry();
      const ratio = window.devicePixelRatio || 1;
      canvas.width = width * ratio;
      canvas.height = height * ratio;
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
      const ctx = canvas.getContext('2d');
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, width, height);
      ctx.font = `${Math.min(11, size)}px ui-monospace, monospace`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillStyle = '#374151';
      for (let i = 0; i < n; i++) {
        ctx.fillText(this.tokens[i], x / 2, y + i * size + size / 2); // the row's token (it attends)
        ctx.fillText(this.tokens[i], x + i * size + size / 2, y / 2); // the column's token (attended to)
      }
      for (let i = 0; i < n; i++) {
        const row = this.weights[i] || [];
        for (let j = 0; j <= i; j++) {
          ctx.fillStyle = this.color(row[j] || 0);
          ctx.fillRect(x + j * size, y + i * size, size, size);
        }
      }
      if (this.focus !== null) {
        ctx.strokeStyle = '#111827';
        ctx.lineWidth = 2;
        ctx.strokeRect(x, y + this.focus * size, (this.focus + 1) * size, size);
      }
      this.drawn += 1;
    },
    hover(e) {
      const { x, y, size, n } = this.geometry();
      const rect = this.$refs.canvas.getBoundingClientRect();
      const j = Math.floor((e.clientX - rect.left - x) / size);
      const i = Math.floor((e.clientY - rect.top - y) / size);
      this.cell = i >= 0 && i < n && j >= 0 && j <= i ? [i, j] : null;
    },
    chipStyle(i) {
      const base = 'display:inline-block;border-radius:4px;padding:0 3px;margin:1px;cursor:help;';
      const query = this.focus ?? (this.cell ? this.cell[0] : null);
      if (query === null) return base + 'background:#f1f5f9;';
      if (i === query) return base + 'background:#fff;outline:2px solid #4338ca;';
      const w = (this.weights[query] || [])[i] || 0;
      return base + `background:${this.color(w)};color:${w > 0.6 * (this.high || 1) ? '#fff' : '#111827'};`;
    },
  },
};
