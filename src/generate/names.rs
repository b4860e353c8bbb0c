//! Synthetic Chinese names: people, phones, communities, villages, compounds and public sites.
//! Every name is drawn from fixed lists with the caller's seeded RNG, so names are deterministic.

use std::collections::BTreeSet;

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹",
    "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "贾", "丁", "魏", "薛",
    "叶", "阎", "余", "潘", "杜", "戴", "夏", "钟", "汪", "田", "任", "姜", "范", "方", "石", "姚",
    "谭", "廖", "邹", "熊", "金", "陆", "郝", "孔", "白", "崔", "康", "毛", "邱", "秦", "江", "史",
    "顾", "侯", "邵", "孟", "龙", "万", "段", "牛", "申",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "建", "国", "红", "玉", "兰", "志", "新", "海",
    "春", "文", "利", "辉", "鹏", "飞", "宇", "浩", "凯", "婷", "雪", "琳", "晨", "欣", "佳", "颖",
    "博", "森", "亮", "俊", "彬", "慧", "淑", "梅", "荣", "富", "德", "福", "振", "卫", "永", "成",
    "林", "瑞", "晓", "东", "峰", "雷", "蕾", "倩",
];

const PLACE_STEMS: &[&str] = &[
    "朝阳", "和平", "建设", "新华", "兴隆", "幸福", "光明", "文化", "花园", "金山", "滨河", "淇水",
    "黎阳", "春华", "秀水", "龙岗", "翠园", "华山", "嵩山", "太行", "红旗", "长风", "宝山", "汤河",
    "鹿楼", "九州", "泰山", "天山", "长江", "黄河", "海河", "渤海", "淇园", "桃园", "梨园", "东山",
    "西山", "南山", "北山", "振兴", "新民", "团结", "胜利", "友谊", "育才", "明珠", "阳光", "金地",
    "银河", "星海", "锦绣", "书香", "南湖", "北湖", "青龙", "白鹤", "凤凰", "瑞丰", "丰收", "永安",
    "长安", "安居", "乐居", "康宁", "福田", "富民", "新城", "老城", "中原", "朝歌",
];

const VILLAGE_PREFIX: &[&str] = &[
    "东", "西", "南", "北", "前", "后", "大", "小", "上", "下", "中", "新", "老",
];
const VILLAGE_SUFFIX: &[&str] = &[
    "庄", "营", "屯", "寨", "店", "集", "堡", "河", "岗", "沟", "湾", "坡", "园", "楼", "桥",
];

const COMPOUND_SUFFIX: &[&str] = &[
    "小区", "花园", "苑", "家园", "名苑", "公馆", "华府", "新村", "雅居", "城",
];
const OLD_COMPOUND_OWNERS: &[&str] = &[
    "鹤煤一矿",
    "鹤煤二矿",
    "鹤煤三矿",
    "鹤煤四矿",
    "鹤煤六矿",
    "鹤煤八矿",
    "鹤煤九矿",
    "鹤壁电厂",
    "市纺织厂",
    "市机械厂",
    "市供销社",
    "市建筑公司",
    "市化肥厂",
    "市粮食局",
    "市运输公司",
    "市自来水公司",
    "市水泥厂",
    "市棉纺厂",
];

/// A full name: a common surname and one or two given characters.
pub fn person(rng: &mut ChaCha8Rng) -> String {
    let mut name = String::from(pick(SURNAMES, rng));
    name.push_str(pick(GIVEN, rng));
    if rng.random_bool(0.7) {
        name.push_str(pick(GIVEN, rng));
    }
    name
}

/// A mainland mobile number (11 digits, 13x–19x).
pub fn phone(rng: &mut ChaCha8Rng) -> String {
    let second = [3u8, 5, 7, 8, 9][rng.random_range(0..5)];
    format!("1{second}{:09}", rng.random_range(0..1_000_000_000u32))
}

/// A community (社区) name unique within `used`.
pub fn community(rng: &mut ChaCha8Rng, used: &mut BTreeSet<String>) -> String {
    unique(used, rng, "社区", |r| pick(PLACE_STEMS, r).to_string())
}

/// A village (村) name unique within `used`: surname or direction + place word, e.g. 东王庄村.
pub fn village(rng: &mut ChaCha8Rng, used: &mut BTreeSet<String>) -> String {
    unique(used, rng, "村", |r| {
        if r.random_bool(0.6) {
            format!("{}{}", pick(SURNAMES, r), pick(VILLAGE_SUFFIX, r))
        } else {
            format!(
                "{}{}{}",
                pick(VILLAGE_PREFIX, r),
                pick(SURNAMES, r),
                pick(VILLAGE_SUFFIX, r)
            )
        }
    })
}

/// A residential compound (小区) name; `old` gives a work-unit 家属院 of the mining-city era.
pub fn compound(rng: &mut ChaCha8Rng, old: bool) -> String {
    if old {
        format!("{}家属院", pick(OLD_COMPOUND_OWNERS, rng))
    } else {
        format!("{}{}", pick(PLACE_STEMS, rng), pick(COMPOUND_SUFFIX, rng))
    }
}

/// A name `stem + suffix` not yet in `used`; after many clashes the stem gets a number
/// (朝阳二社区), so the result is always unique.
fn unique(
    used: &mut BTreeSet<String>,
    rng: &mut ChaCha8Rng,
    suffix: &str,
    mut stem: impl FnMut(&mut ChaCha8Rng) -> String,
) -> String {
    for _ in 0..50 {
        let name = format!("{}{suffix}", stem(rng));
        if used.insert(name.clone()) {
            return name;
        }
    }
    let base = stem(rng);
    let mut n = 2;
    loop {
        let name = format!("{base}{}{suffix}", chinese_number(n));
        if used.insert(name.clone()) {
            return name;
        }
        n += 1;
    }
}

fn pick(items: &[&'static str], rng: &mut ChaCha8Rng) -> &'static str {
    // The lists are non-empty constants.
    items.choose(rng).copied().unwrap_or_default()
}

/// A number in Chinese numerals (1–9999), e.g. 12 → 十二, 105 → 一百零五.
pub fn chinese_number(n: u32) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    const UNITS: [&str; 4] = ["", "十", "百", "千"];
    if n == 0 {
        return DIGITS[0].into();
    }
    let digits: Vec<usize> = n.to_string().bytes().map(|b| (b - b'0') as usize).collect();
    let len = digits.len();
    let mut out = String::new();
    let mut zero_pending = false;
    for (i, &d) in digits.iter().enumerate() {
        let unit = UNITS[len - 1 - i];
        if d == 0 {
            zero_pending = !out.is_empty();
            continue;
        }
        if zero_pending {
            out.push_str(DIGITS[0]);
            zero_pending = false;
        }
        if !(d == 1 && unit == "十" && out.is_empty()) {
            out.push_str(DIGITS[d]);
        }
        out.push_str(unit);
    }
    out
}

/// The name of a special grid's site: a school, hospital or market named after its community.
pub fn site(kind: SiteKind, community_name: &str, n: u32) -> String {
    let stem = community_name
        .trim_end_matches("社区")
        .trim_end_matches('村');
    match kind {
        SiteKind::School if n.is_multiple_of(2) => format!("{stem}中学"),
        SiteKind::School => format!("{stem}小学"),
        SiteKind::Hospital => format!("{stem}社区卫生服务中心"),
        SiteKind::Market => format!("{stem}农贸市场"),
    }
}

/// The kinds of special grid (专属网格) sites the generator draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SiteKind {
    School,
    Hospital,
    Market,
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn chinese_numbers() {
        let cases = [
            (0, "零"),
            (1, "一"),
            (10, "十"),
            (12, "十二"),
            (20, "二十"),
            (105, "一百零五"),
            (110, "一百一十"),
            (1001, "一千零一"),
        ];
        for (n, s) in cases {
            assert_eq!(chinese_number(n), s, "{n}");
        }
    }

    #[test]
    fn phones_are_eleven_digits() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let p = phone(&mut rng);
            assert_eq!(p.len(), 11);
            assert!(p.starts_with('1') && p.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn names_stay_unique_even_when_exhausted() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut used = BTreeSet::new();
        let names: Vec<String> = (0..400).map(|_| community(&mut rng, &mut used)).collect();
        assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), 400);
        assert!(names.iter().all(|n| n.ends_with("社区")));
    }
}
