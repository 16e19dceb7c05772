"""The HTML of `cnnzoo.report`'s page: sections as strings, one page around
them. Every text that comes in is escaped here; only `missing` takes HTML.

The page stands alone: inline CSS, images as base64 data URIs, no scripts
and no links to fetch.
"""

import base64
import html
import json
import pathlib

from PIL import Image

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif;
       color: #1d2330; background: #f4f5f7; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 40px; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 0 0 12px; }
section { background: white; border: 1px solid #dde1e7; border-radius: 8px;
          padding: 18px 22px; margin: 18px 0; }
.subtitle { color: #5a6375; margin: 0 0 8px; }
.missing { background: #fff8e1; border-color: #f0d68a; }
.missing li { margin: 4px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 14px; }
.card { flex: 1 1 150px; background: #f7f9fc; border: 1px solid #dde1e7;
        border-radius: 8px; padding: 12px 16px; }
.card .value { font-size: 30px; font-weight: 650; }
.card.main .value { font-size: 40px; color: #1a56b0; }
.card .label { color: #5a6375; font-size: 13px; }
.columns { display: flex; flex-wrap: wrap; gap: 28px; }
.columns > div { flex: 1 1 380px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 10px;
         border-bottom: 1px solid #e6e9ee; }
th { color: #5a6375; font-weight: 600; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { width: 38%; }
img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
code, pre { font: 13px/1.4 ui-monospace, 'SFMono-Regular', Menlo, monospace; }
code { background: #eef1f5; padding: 1px 5px; border-radius: 4px; }
pre { background: #f7f9fc; border: 1px solid #e6e9ee; padding: 12px;
      overflow-x: auto; }
summary { cursor: pointer; font-weight: 600; font-size: 17px; }
footer { color: #5a6375; font-size: 13px; }
"""


def page(title: str, sections: list[str], footer: str,
         subtitle: str = 'cnnzoo run report') -> str:
  """The whole document: `title` as heading, the sections' HTML in order."""
  body = '\n'.join(s for s in sections if s)
  return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">'
          f'\n<title>{escape(title)}: cnnzoo report</title>\n'
          f'<style>{_CSS}</style>\n</head>\n<body>\n<main>\n'
          f'<h1>{escape(title)}</h1>\n<p class="subtitle">{escape(subtitle)}</p>'
          f'\n{body}\n<footer>{escape(footer)}</footer>\n</main>\n</body>\n'
          f'</html>\n')


def missing(sentences_html: list[str]) -> str:
  """A highlighted list of what the run lacks; the sentences are HTML."""
  if not sentences_html:
    return ''
  items = ''.join(f'<li>{s}</li>' for s in sentences_html)
  return (f'<section class="missing"><h2>Not in this report yet</h2>'
          f'<ul>{items}</ul></section>')


def headline(metrics: dict) -> str:
  """Cards of the final accuracy, top-5, loss and calibration error."""
  if not metrics:
    return ('<section><h2>Results</h2><p>No epoch has finished yet.</p>'
            '</section>')
  split = metrics['split']
  cards = [(f'{split} top-1 accuracy', _percent(metrics['accuracy']), True),
           (f'{split} top-5 accuracy', _percent(metrics['top5']), False),
           (f'{split} loss', _number(metrics['loss'], '.4f'), False)]
  if metrics.get('ece') is not None:
    cards.append(('expected calibration error (0 to 1)',
                  _number(metrics['ece'], '.4f'), False))
  html_cards = ''.join(
      f'<div class="card{" main" if main else ""}"><div class="value">'
      f'{escape(value)}</div><div class="label">{escape(label)}</div></div>'
      for label, value, main in cards if value is not None)
  note = f'{split.capitalize()} split'
  if metrics.get('epoch'):
    note += f', the epoch {metrics["epoch"]} weights'
  if metrics.get('num_examples'):
    note += f', {metrics["num_examples"]:,} examples'
  note += '.'
  if split != 'test':
    note += ' The run has no test result yet: these are its last validation.'
  return (f'<section><h2>Results</h2><div class="cards">{html_cards}</div>'
          f'<p class="subtitle">{escape(note)}</p></section>')


def paragraphs(title: str, texts: list[str]) -> str:
  """A titled section of plain-text paragraphs."""
  body = ''.join(f'<p>{escape(t)}</p>' for t in texts)
  return f'<section><h2>{escape(title)}</h2>{body}</section>'


def facts(rows: list[tuple[str, str]]) -> str:
  """A two-column table of named facts."""
  body = ''.join(f'<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>'
                 for k, v in rows)
  return f'<table class="facts">{body}</table>'


def table(header: tuple[str, ...], rows: list[tuple],
          text_columns: int = 1) -> str:
  """A table whose first `text_columns` columns are text and the others
  numbers, aligned right."""
  def cell(tag, i, value):
    kind = ' class="number"' if i >= text_columns else ''
    return f'<{tag}{kind}>{escape(value)}</{tag}>'
  head = ''.join(cell('th', i, h) for i, h in enumerate(header))
  body = ''.join('<tr>' + ''.join(cell('td', i, v) for i, v in enumerate(row))
                 + '</tr>' for row in rows)
  return f'<table><tr>{head}</tr>{body}</table>'


def side_by_side(left_title: str, left_html: str, right_title: str,
                 right_html: str) -> str:
  """Two titled blocks of HTML next to each other (stacked when narrow)."""
  return (f'<section class="columns"><div><h2>{escape(left_title)}</h2>'
          f'{left_html}</div><div><h2>{escape(right_title)}</h2>{right_html}'
          f'</div></section>')


def figure(title: str, png: pathlib.Path) -> str:
  """The PNG embedded as a data URI, its Title text field as alt text."""
  data = pathlib.Path(png).read_bytes()
  with Image.open(png) as image:
    alt = image.text.get('Title', title)
  encoded = base64.b64encode(data).decode('ascii')
  return (f'<section><h2>{escape(title)}</h2><img alt="{escape(alt)}" '
          f'src="data:image/png;base64,{encoded}"></section>')


def config(config_dict: dict) -> str:
  """The resolved config, collapsed."""
  text = json.dumps(config_dict, indent=2, sort_keys=True)
  return (f'<section><details><summary>Config (config.json)</summary>'
          f'<pre>{escape(text)}</pre></details></section>')


def escape(value) -> str:
  """`value` as text that HTML shows as it is."""
  return html.escape(str(value))



def _percent(value) -> str | None:
  return None if value is None else f'{100 * value:.2f}%'


def _number(value, spec) -> str | None:
  return None if value is None else format(value, spec)
