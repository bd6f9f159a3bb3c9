//! Times each layer of reading a workbook's sheets, alternating in one process (benchmark
//! aid): calamine's whole-sheet range, its cell stream over the file as uploaded, the same
//! stream over the rebuilt archive (`sheetzip`, one inflate, scanned), and the importer's
//! `Workbook::cells` making every cell. Prints the median of each over `ROUNDS` rounds.
use calamine::{DataRef, Reader, Xlsx};
use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

const ROUNDS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: read_paths FILE.xlsx")?;
    let bytes: Arc<[u8]> = Arc::from(std::fs::read(&path)?);
    let limits = importer::ReadLimits::default();
    let mut times: [Vec<f64>; 4] = Default::default();
    let mut cells = [0usize; 4];
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let mut x: Xlsx<_> = Xlsx::new(Cursor::new(bytes.clone()))?;
        cells[0] = 0;
        for name in x.sheet_names() {
            cells[0] += x.worksheet_range(&name)?.used_cells().count();
        }
        times[0].push(t.elapsed().as_secs_f64());

        for (i, rebuilt) in [(1, false), (2, true)] {
            let t = Instant::now();
            let n = if rebuilt {
                let z =
                    importer::sheetzip::SheetZip::new(bytes.clone(), &limits).map_err(|r| r.en)?;
                stream(Xlsx::new(z)?)?
            } else {
                stream(Xlsx::new(Cursor::new(bytes.clone()))?)?
            };
            cells[i] = n;
            times[i].push(t.elapsed().as_secs_f64());
        }

        let t = Instant::now();
        let mut wb =
            importer::workbook::Workbook::open(bytes.to_vec(), &limits).map_err(|r| r.en)?;
        cells[3] = 0;
        for name in wb.sheet_names() {
            wb.cells(&name, |_, _, v| {
                std::hint::black_box(v.cell());
                cells[3] += 1;
                Ok(())
            })
            .map_err(|r| r.en)?;
        }
        times[3].push(t.elapsed().as_secs_f64());
    }
    let labels = [
        "calamine range",
        "stream (file)",
        "stream (sheetzip)",
        "Workbook::cells",
    ];
    for i in 0..4 {
        times[i].sort_by(f64::total_cmp);
        println!(
            "{:<18} median {:.3} s  best {:.3} s  cells {}",
            labels[i],
            times[i][ROUNDS / 2],
            times[i][0],
            cells[i]
        );
    }
    Ok(())
}

fn stream<RS: std::io::Read + std::io::Seek>(
    mut x: Xlsx<RS>,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut n = 0;
    for name in x.sheet_names() {
        let mut r = x.worksheet_cells_reader(&name)?;
        while let Some(c) = r.next_cell_with_formula_metadata()? {
            if c.value != DataRef::Empty {
                n += 1;
            }
        }
    }
    Ok(n)
}
