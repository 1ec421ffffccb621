// Fill a workbook the way a web tool would: read it with a JavaScript spreadsheet library,
// type values into cells, write it back with the same library.
//
// usage: node fill.js sheetjs|exceljs IN OUT SPEC.json
//   SPEC.json: {"填报": {"G6": "按计划推进", "H6": 60}}  (sheet -> cell -> value)
'use strict';
const fs = require('fs');

async function main() {
  const [lib, input, output, specPath] = process.argv.slice(2);
  const spec = JSON.parse(fs.readFileSync(specPath, 'utf8'));
  if (lib === 'sheetjs') {
    const XLSX = require('xlsx');
    const wb = XLSX.readFile(input);
    for (const [sheet, cells] of Object.entries(spec)) {
      const ws = wb.Sheets[sheet];
      for (const [ref, v] of Object.entries(cells)) {
        ws[ref] = typeof v === 'number' ? { t: 'n', v } : { t: 's', v: String(v) };
      }
    }
    XLSX.writeFile(wb, output);
  } else if (lib === 'exceljs') {
    const ExcelJS = require('exceljs');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(input);
    for (const [sheet, cells] of Object.entries(spec)) {
      const ws = wb.getWorksheet(sheet);
      for (const [ref, v] of Object.entries(cells)) ws.getCell(ref).value = v;
    }
    await wb.xlsx.writeFile(output);
  } else {
    throw new Error(`unknown writer ${lib}`);
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
