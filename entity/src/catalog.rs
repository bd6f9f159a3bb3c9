//! The fixed reference data of domain.md: the five dimensions, the seventeen MPI
//! indicators, and the default agencies a province gets. Migrations seed from here.

use crate::types::Dimension;

/// Who an indicator is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// the whole household
    Household,
    /// one person in it
    Person,
}

impl Unit {
    /// `household` or `person`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Household => "household",
            Unit::Person => "person",
        }
    }
}

/// One of the seventeen MPI indicators.
#[derive(Debug, Clone, Copy)]
pub struct IndicatorDef {
    /// Stable code 1–17.
    pub code: u8,
    /// Basic Minimum Needs survey item (2017–2021 edition).
    pub bmn: u8,
    /// Its dimension.
    pub dimension: Dimension,
    /// Household or person.
    pub unit: Unit,
    /// Who the person must be: `newborn`, `6+`, `3-5`, `6-14`, `finished_m3`, `15-59`, `60+`, `disabled`.
    pub age_rule: Option<&'static str>,
    /// Youngest age the rule covers, in years.
    pub min_age: Option<i32>,
    /// Oldest age the rule covers, in years.
    pub max_age: Option<i32>,
    /// Thai text.
    pub name_th: &'static str,
    /// English text.
    pub name_en: &'static str,
}

macro_rules! ind {
    ($code:expr, $bmn:expr, $dim:ident, $unit:ident, $rule:expr, $min:expr, $max:expr, $th:expr, $en:expr) => {
        IndicatorDef {
            code: $code,
            bmn: $bmn,
            dimension: Dimension::$dim,
            unit: Unit::$unit,
            age_rule: $rule,
            min_age: $min,
            max_age: $max,
            name_th: $th,
            name_en: $en,
        }
    };
}

/// The seventeen indicators, in code order.
pub const INDICATORS: [IndicatorDef; 17] = [
    ind!(
        1,
        1,
        Health,
        Person,
        Some("newborn"),
        Some(0),
        Some(0),
        "เด็กแรกเกิดมีน้ำหนัก 2,500 กรัมขึ้นไป",
        "Newborn weighs at least 2,500 g"
    ),
    ind!(
        2,
        4,
        Health,
        Household,
        None,
        None,
        None,
        "ครัวเรือนกินอาหารถูกสุขลักษณะ ปลอดภัย และได้มาตรฐาน",
        "Household eats hygienic, safe food"
    ),
    ind!(
        3,
        5,
        Health,
        Household,
        None,
        None,
        None,
        "ครัวเรือนมีการใช้ยาเพื่อบำบัด บรรเทาอาการเจ็บป่วยเบื้องต้นอย่างเหมาะสม",
        "Household uses medicine appropriately"
    ),
    ind!(
        4,
        7,
        Health,
        Person,
        Some("6+"),
        Some(6),
        None,
        "คนอายุ 6 ปีขึ้นไป ออกกำลังกายอย่างน้อยสัปดาห์ละ 3 วัน ๆ ละ 30 นาที",
        "People aged 6+ exercise 3 days a week, 30 minutes a day"
    ),
    ind!(
        5,
        8,
        Living,
        Household,
        None,
        None,
        None,
        "ครัวเรือนมีความมั่นคงในที่อยู่อาศัย และบ้านมีสภาพคงทนถาวร",
        "Household has secure, durable housing"
    ),
    ind!(
        6,
        9,
        Living,
        Household,
        None,
        None,
        None,
        "ครัวเรือนมีน้ำสะอาดสำหรับดื่มและบริโภคเพียงพอตลอดปี อย่างน้อยคนละ 5 ลิตรต่อวัน",
        "Household has drinking water, 5 L per person per day, all year"
    ),
    ind!(
        7,
        10,
        Living,
        Household,
        None,
        None,
        None,
        "ครัวเรือนมีน้ำใช้เพียงพอตลอดปี อย่างน้อยคนละ 45 ลิตรต่อวัน",
        "Household has water for use, 45 L per person per day, all year"
    ),
    ind!(
        8,
        11,
        Living,
        Household,
        None,
        None,
        None,
        "ครัวเรือนมีการจัดการบ้านเรือนเป็นระเบียบเรียบร้อย สะอาด และถูกสุขลักษณะ",
        "Household keeps a tidy, hygienic home"
    ),
    ind!(
        9,
        15,
        Education,
        Person,
        Some("3-5"),
        Some(3),
        Some(5),
        "เด็กอายุ 3-5 ปี ได้รับบริการเลี้ยงดูเตรียมความพร้อมก่อนวัยเรียน",
        "Children aged 3-5 receive pre-school care"
    ),
    ind!(
        10,
        16,
        Education,
        Person,
        Some("6-14"),
        Some(6),
        Some(14),
        "เด็กอายุ 6-14 ปี ได้รับการศึกษาภาคบังคับ 9 ปี",
        "Children aged 6-14 receive 9 years of compulsory education"
    ),
    ind!(
        11,
        17,
        Education,
        Person,
        Some("finished_m3"),
        Some(14),
        Some(18),
        "เด็กจบชั้น ม.3 ได้เรียนต่อชั้น ม.4 หรือเทียบเท่า",
        "Children who finished lower secondary continue to upper secondary"
    ),
    ind!(
        12,
        19,
        Education,
        Person,
        Some("15-59"),
        Some(15),
        Some(59),
        "คนอายุ 15-59 ปี อ่าน เขียนภาษาไทย และคิดเลขอย่างง่ายได้",
        "People aged 15-59 read, write Thai and do simple arithmetic"
    ),
    ind!(
        13,
        20,
        Income,
        Person,
        Some("15-59"),
        Some(15),
        Some(59),
        "คนอายุ 15-59 ปี มีอาชีพและรายได้",
        "People aged 15-59 have an occupation and income"
    ),
    ind!(
        14,
        21,
        Income,
        Person,
        Some("60+"),
        Some(60),
        None,
        "คนอายุ 60 ปีขึ้นไป มีอาชีพและรายได้",
        "People aged 60+ have an occupation and income"
    ),
    ind!(
        15,
        22,
        Income,
        Household,
        None,
        None,
        None,
        "รายได้เฉลี่ยของคนในครัวเรือนต่อปี",
        "Household income per member per year is above the threshold"
    ),
    ind!(
        16,
        27,
        Access,
        Person,
        Some("60+"),
        Some(60),
        None,
        "ผู้สูงอายุ ได้รับการดูแลจากครอบครัว ชุมชน ภาครัฐ หรือภาคเอกชน",
        "Elderly people receive care from family, community, state or private sector"
    ),
    ind!(
        17,
        28,
        Access,
        Person,
        Some("disabled"),
        None,
        None,
        "ผู้พิการ ได้รับการดูแลจากครอบครัว ชุมชน ภาครัฐ หรือภาคเอกชน",
        "Disabled people receive care from family, community, state or private sector"
    ),
];

/// The indicator with this code.
pub fn indicator(code: u8) -> Option<&'static IndicatorDef> {
    INDICATORS.get(usize::from(code).wrapping_sub(1))
}

/// The dimension of a stored indicator code (none for a code outside 1–17).
pub fn dimension_of(code: i32) -> Option<crate::types::Dimension> {
    u8::try_from(code)
        .ok()
        .and_then(indicator)
        .map(|i| i.dimension)
}

/// A default agency that loading a province creates.
#[derive(Debug, Clone, Copy)]
pub struct AgencyTemplate {
    /// Code suffix: the agency's code is `PP-suffix`.
    pub suffix: &'static str,
    /// Abbreviation (`สสจ.`).
    pub abbreviation: &'static str,
    /// Thai name without the province's name.
    pub name_th: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Dimensions it owns by default.
    pub dimensions: &'static [Dimension],
}

/// The default agencies of a province (domain.md), a working assumption kept as data.
pub const DEFAULT_AGENCIES: [AgencyTemplate; 8] = [
    AgencyTemplate {
        suffix: "pho",
        abbreviation: "สสจ.",
        name_th: "สำนักงานสาธารณสุขจังหวัด",
        name_en: "Provincial Public Health Office",
        dimensions: &[Dimension::Health],
    },
    AgencyTemplate {
        suffix: "sdhs",
        abbreviation: "พมจ.",
        name_th: "สำนักงานพัฒนาสังคมและความมั่นคงของมนุษย์จังหวัด",
        name_en: "Provincial Social Development and Human Security Office",
        dimensions: &[Dimension::Living, Dimension::Access],
    },
    AgencyTemplate {
        suffix: "edu",
        abbreviation: "ศธจ.",
        name_th: "สำนักงานศึกษาธิการจังหวัด",
        name_en: "Provincial Education Office",
        dimensions: &[Dimension::Education],
    },
    AgencyTemplate {
        suffix: "cdd",
        abbreviation: "พช.จ.",
        name_th: "สำนักงานพัฒนาชุมชนจังหวัด",
        name_en: "Provincial Community Development Office",
        dimensions: &[Dimension::Income],
    },
    AgencyTemplate {
        suffix: "dla",
        abbreviation: "สถ.จ.",
        name_th: "สำนักงานส่งเสริมการปกครองท้องถิ่นจังหวัด",
        name_en: "Provincial Local Administration Office",
        dimensions: &[Dimension::Access],
    },
    AgencyTemplate {
        suffix: "agri",
        abbreviation: "กษ.จ.",
        name_th: "สำนักงานเกษตรและสหกรณ์จังหวัด",
        name_en: "Provincial Agriculture and Cooperatives Office",
        dimensions: &[Dimension::Income],
    },
    AgencyTemplate {
        suffix: "labour",
        abbreviation: "รง.จ.",
        name_th: "สำนักงานแรงงานจังหวัด",
        name_en: "Provincial Labour Office",
        dimensions: &[Dimension::Income],
    },
    AgencyTemplate {
        suffix: "commerce",
        abbreviation: "พณ.จ.",
        name_th: "สำนักงานพาณิชย์จังหวัด",
        name_en: "Provincial Commerce Office",
        dimensions: &[Dimension::Income],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seventeen_indicators_in_code_order() {
        for (i, ind) in INDICATORS.iter().enumerate() {
            assert_eq!(usize::from(ind.code), i + 1);
        }
        assert_eq!(indicator(16).unwrap().dimension, Dimension::Access);
        assert!(indicator(0).is_none());
        assert!(indicator(18).is_none());
    }
}
