import { describe, expect, it } from 'vitest';
import { type RenderContext, renderTemplate } from '../../support/helm-subset/render.js';

const context = (values: Record<string, unknown> = {}): RenderContext => ({
  Values: { name: 'x', n: 2, on: true, off: false, empty: '', map: { b: '2', a: 1 }, none: {}, ...values },
  Release: { Name: 'rel', Namespace: 'ns' },
  Chart: { Name: 'myaas', Version: '0.1.0', AppVersion: '0.1.0' },
});
const render = (source: string, values?: Record<string, unknown>) => renderTemplate(source, context(values));

describe('the subset renderer (Go text/template semantics for the subset)', () => {
  it('prints fields and literals', () => {
    expect(
      render('a: {{ .Values.name }} {{ .Release.Namespace }} {{ .Release.Name }} {{ .Chart.AppVersion }}'),
    ).toBe('a: x ns rel 0.1.0');
    expect(render('{{ .Values.n }}')).toBe('2');
    expect(render('{{ .Values.name | quote }}')).toBe('"x"');
    expect(render('{{ quote .Values.n }}')).toBe('"2"');
  });

  it('trims as {{- and -}} do', () => {
    expect(render('a:\n  {{- if .Values.on }}\n  b: 1\n{{- end }}\nc: 2')).toBe('a:\n  b: 1\nc: 2');
    expect(render('a {{ .Values.name -}}  \n\n b')).toBe('a xb');
    expect(render('a  \n {{- .Values.name }}')).toBe('ax');
  });

  it('branches on Go truthiness, with else', () => {
    const is = (expr: string) => render(`{{ if ${expr} }}T{{ else }}F{{ end }}`);
    expect([
      is('.Values.on'),
      is('.Values.off'),
      is('.Values.empty'),
      is('.Values.none'),
      is('.Values.map'),
    ]).toEqual(['T', 'F', 'F', 'F', 'T']);
    expect(is('not .Values.on')).toBe('F');
    expect(is('eq .Values.name "x"')).toBe('T');
    expect(is('ne .Values.name "x"')).toBe('F');
    expect(is('gt (int .Values.n) 1')).toBe('T');
    expect(is('gt (int .Values.n) 2')).toBe('F');
    expect(is('gt (int "3") 2')).toBe('T');
    expect(render('{{ if .Values.on }}{{ if .Values.off }}a{{ else }}b{{ end }}{{ end }}')).toBe('b');
  });

  it('writes maps with toYaml | nindent, keys sorted, as helm does', () => {
    expect(render('s: {{- toYaml .Values.map | nindent 2 }}')).toBe('s:\n  a: 1\n  b: "2"');
    expect(render('s: {{- toYaml .Values.none | nindent 2 }}')).toBe('s:\n  {}');
  });

  it('rejects everything outside the subset, so the chart stays what helm reads the same way', () => {
    for (const source of [
      '{{ include "myaas.labels" . }}',
      '{{ template "x" . }}',
      '{{ define "x" }}{{ end }}',
      '{{ range .Values.list }}{{ end }}',
      '{{ with .Values.map }}{{ end }}',
      '{{ if .Values.on }}a{{ else if .Values.off }}b{{ end }}',
      '{{ .Values.name | default "y" }}',
      '{{ .Values.name | upper }}',
      '{{ tpl .Values.name . }}',
      '{{ .Capabilities.KubeVersion }}',
      '{{ .Files.Get "x" }}',
      '{{ $x := .Values.name }}',
      '{{ .Values.missing }}',
      '{{ .Values.map }}',
      '{{ if .Values.on }}never ended',
      '{{ end }}',
      '{{/* a comment */}}',
      '{{ eq .Values.n "2" }}',
      '{{ gt .Values.name 1 }}',
      '{{-end}}',
    ]) {
      expect(() => render(source), source).toThrow();
    }
  });
});
