//! Benchmark baseline: calamine's bare read of every sheet of a workbook, nothing else.
//! Prints `bare_read_s=… cells=… rows=…`.

use calamine::{Reader, open_workbook_auto};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: bare_read FILE")?;
    let t = Instant::now();
    let mut wb = open_workbook_auto(&path)?;
    let mut cells = 0usize;
    let mut rows = 0usize;
    for name in wb.sheet_names() {
        let range = wb.worksheet_range(&name)?;
        rows += range.height();
        cells += range.used_cells().count();
    }
    println!(
        "bare_read_s={:.3} cells={cells} rows={rows}",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
